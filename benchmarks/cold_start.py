"""Cold start of the `ragkit` command per embedding runtime, and how the runtimes' vectors agree, as JSON.

    python benchmarks/cold_start.py --out docs/results/cold-start/cold-start.json

Each figure is the wall time of a fresh `ragkit ... --json` process, as a user runs it (the
operating system's file cache is warm: the model and the home were read before), repeated
--repeats times; the JSON keeps every run, the median and the best. Per runtime (--runtimes):

- `ingest`: `ragkit ingest CORPUS` into an empty home (a new one each repeat), the ONNX export
  already in the cache (its one-time cost is `onnx_export_s`);
- `noop`: the same ingest again right after, nothing changed;
- `query`: `ragkit query TEXT` (hybrid, k 10) on a collection made from CORPUS.

`floor` holds what no command can avoid here: Python's own start, and importing chromadb and
bm25s (the embedded index and BM25, which every query opens). `vectors` (unless --no-vectors)
compares the runtimes on real texts (SciFact abstracts and claims, the corpus's Markdown): the
minimum and mean cosine of onnx against torch and of onnx-int8 against onnx, documents per
second in batches, and one query's latency on one thread (best of three passes each).

The machine may be shared: `load` records the load average before and after; compare bests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "beir-scifact"
TARGETS = {"query_s": 1.5, "ingest_s": 10.0, "noop_s": 1.0}
QUERY = "How much are hotel costs reimbursed per night?"


def ragkit_command() -> list[str]:
    script = Path(sys.executable).with_name("ragkit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ragkit.cli"]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    return seconds, json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}


def summary(runs: list[float], target: float | None = None) -> dict:
    out = {"runs": [round(r, 3) for r in runs], "median": round(statistics.median(runs), 3), "best": round(min(runs), 3)}
    if target is not None:
        out.update(target=target, median_met=out["median"] <= target, best_met=out["best"] <= target)
    return out


def env_for(home: Path, cache: Path, runtime: str) -> dict[str, str]:
    return {**os.environ, "RAGKIT_HOME": str(home), "RAGKIT_CACHE_DIR": str(cache), "RAGKIT_EMBED_RUNTIME": runtime, "DO_NOT_TRACK": "1"}


def cold_start(runtime: str, corpus: Path, work: Path, cache: Path, repeats: int) -> dict:
    ragkit = ragkit_command()
    ingest, noop, reported = [], [], []
    for i in range(repeats):
        home = work / f"{runtime}-ingest-{i}"
        env = env_for(home, cache, runtime)
        seconds, report = timed([*ragkit, "ingest", str(corpus), "--json"], env)
        if report.get("failed"):
            raise RuntimeError(f"ingest failed for {report['failed']}")
        ingest.append(seconds)
        reported.append(report["seconds"])
        seconds, report = timed([*ragkit, "ingest", str(corpus), "--json"], env)
        if report["added"] or report["updated"] or report["deleted"]:
            raise RuntimeError(f"the re-ingest changed something: {report}")
        noop.append(seconds)
    # the query collection: the last ingest's home
    env = env_for(work / f"{runtime}-ingest-{repeats - 1}", cache, runtime)
    query, hits = [], None
    for _ in range(repeats):
        seconds, result = timed([*ragkit, "query", QUERY, "--json"], env)
        query.append(seconds)
        hits = [h["source"] for h in result["hits"][:3]]
    return {
        "query_s": summary(query, TARGETS["query_s"]),
        "ingest_s": summary(ingest, TARGETS["ingest_s"]),
        "noop_s": summary(noop, TARGETS["noop_s"]),
        "ingest_reported_seconds": summary(reported),
        "chunks": report_chunks(env),
        "top_hits": hits,
    }


def report_chunks(env: dict[str, str]) -> int:
    _, listing = timed([*ragkit_command(), "docs", "list", "--json"], env)
    return sum(d["chunks"] for d in listing["documents"])


def floor(repeats: int) -> dict:
    env = {**os.environ, "DO_NOT_TRACK": "1", "ANONYMIZED_TELEMETRY": "False"}
    return {
        "python_start_s": summary([timed([sys.executable, "-c", "pass"], env)[0] for _ in range(repeats)]),
        "import_chromadb_bm25s_s": summary([timed([sys.executable, "-c", "import chromadb, bm25s"], env)[0] for _ in range(repeats)]),
        "import_torch_sentence_transformers_s": summary([timed([sys.executable, "-c", "import sentence_transformers"], env)[0] for _ in range(repeats)]),
    }


def real_texts(corpus: Path, n: int) -> list[str]:
    texts = [p.read_text(encoding="utf-8")[:4000] for p in sorted(corpus.rglob("*.md"))]
    if SCIFACT.exists():
        docs = (n * 2) // 3
        with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as f:
            texts += [(lambda d: f"{d['title']} {d['text']}")(json.loads(line)) for _, line in zip(range(docs), f)]
        with open(SCIFACT / "queries.jsonl", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for _, line in zip(range(n - docs), f)]
    return texts


def best_of(fn, passes: int = 3) -> float:
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def vectors(corpus: Path, cache: Path, n: int) -> dict:
    """Agreement and speed of the runtimes, in this process (models loaded and warmed first)."""
    import numpy as np

    from ragkit.embedding.encoder import SentenceTransformerEmbedder
    from ragkit.embedding.onnx_runtime import OnnxEmbedder

    texts = real_texts(corpus, n)
    long_texts = [t for t in texts if len(t) > 400][:64]
    queries = [t for t in texts if len(t) < 300][:100]
    embedders = {
        "torch": SentenceTransformerEmbedder(),
        "int8": SentenceTransformerEmbedder(runtime="int8"),
        "onnx": OnnxEmbedder(cache_dir=cache),
        "onnx-int8": OnnxEmbedder(cache_dir=cache, runtime="onnx-int8"),
    }
    out: dict = {"texts": len(texts), "batch_size": embedders["torch"].batch_size, "speed": {}}
    vecs = {}
    for name, e in embedders.items():
        vecs[name] = e.embed_documents(texts)
        e.embed_query("warm up")
        docs_s = len(long_texts) / best_of(lambda: e.embed_documents(long_texts))
        query_ms = 1000 * best_of(lambda: [e.embed_query(q) for q in queries]) / len(queries)
        out["speed"][name] = {"docs_per_s": round(docs_s, 1), "query_ms": round(query_ms, 2)}
    out["speed_docs"] = f"{len(long_texts)} texts over 400 characters (most reach the 256-token window), batches of the configured size"
    out["speed_queries"] = f"{len(queries)} texts under 300 characters, one at a time"

    def cosines(a, b):
        c = (vecs[a] * vecs[b]).sum(axis=1)
        return {"min": round(float(c.min()), 7), "mean": round(float(c.mean()), 7)}

    out["cosine"] = {
        "onnx_vs_torch": cosines("onnx", "torch"),
        "onnx-int8_vs_onnx": cosines("onnx-int8", "onnx"),
        "int8_vs_torch": cosines("int8", "torch"),
    }
    out["max_abs_diff_onnx_vs_torch"] = float(np.abs(vecs["onnx"] - vecs["torch"]).max())
    return out


def commit() -> str | None:
    """The checkout's commit (BENCH_COMMIT when run from an exported copy without .git)."""
    proc = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else os.environ.get("BENCH_COMMIT")


def load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "examples" / "corpus")
    ap.add_argument("--runtimes", default="torch,onnx", help="comma-separated embed runtimes")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--vector-texts", type=int, default=300, help="SciFact texts for the agreement figures")
    ap.add_argument("--no-vectors", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    os.environ.setdefault("DO_NOT_TRACK", "1")

    work = Path(tempfile.mkdtemp(prefix="ragkit-cold-"))
    cache = work / "cache"
    try:
        result: dict = {
            "corpus": str(args.corpus.relative_to(ROOT) if args.corpus.is_relative_to(ROOT) else args.corpus),
            "query": QUERY,
            "repeats": args.repeats,
            "commit": commit(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "load_before": load(),
        }
        t0 = time.perf_counter()
        from ragkit.embedding.onnx_runtime import OnnxEmbedder

        OnnxEmbedder(cache_dir=cache).ensure_exported()
        result["onnx_export_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        OnnxEmbedder(cache_dir=cache, runtime="onnx-int8").ensure_exported()
        result["onnx_int8_quantise_s"] = round(time.perf_counter() - t0, 2)
        result["runtimes"] = {rt: cold_start(rt, args.corpus, work, cache, args.repeats) for rt in args.runtimes.split(",") if rt}
        result["floor"] = floor(args.repeats)
        if not args.no_vectors:
            result["vectors"] = vectors(args.corpus, cache, args.vector_texts)
        result["load_after"] = load()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
