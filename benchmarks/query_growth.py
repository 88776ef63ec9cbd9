"""Query latency as a collection grows: synthetic chunks written through ragkit's storage, timed per mode, as JSON.

    python benchmarks/query_growth.py 10000,100000 --cache /work/scratch/growth --out growth.json

For each size a home is built once under --cache (reruns reuse it): documents of 4-16 chunks of
100-200 words, each chunk a run of sentences from one SciFact abstract topped up with sentences
of others, prefixed by its document's title as the chunker does. They are written with
`CollectionStore.write_documents` in large batches (manifest rows + Chroma vectors) and the BM25
index is built from the manifest. Embedding a million texts with MiniLM is too slow on a CPU, so
chunk vectors are synthetic: the real MiniLM vector of the chunk's main abstract, plus 0.35 times
its document's topic vector, plus Gaussian noise, normalised (see VECTORS).

Each size is then timed in a fresh process (so RSS is that of a server that opened the home):
hybrid queries end to end (`Collection.query`, the real MiniLM embedding the query) and
retrieval only (the query vector precomputed), and dense-only and BM25-only retrieval, over
SciFact's claims as queries.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "beir-scifact"
COLLECTION = "growth"
BATCH_CHUNKS = 20_000  # chunks per write_documents call: fewer commits, Chroma batches inside
NOISE = 0.6  # norm of the Gaussian noise added to a chunk's vector before normalising
VECTORS = (
    f"synthetic: normalise(v[main abstract] + 0.35 * v[document topic] + noise of norm ~{NOISE}); "
    "v = real MiniLM vectors of the first --base-docs SciFact abstracts (title + text)"
)
TEXTS = "synthetic: SciFact sentences recombined; 100-200 words per chunk, the document title as a prefix"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


def load_corpus(folder: Path) -> list[tuple[str, list[str]]]:
    """SciFact abstracts as (title, sentences)."""
    out = []
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            sentences = [s for s in SENTENCE_END.split(rec["text"].strip()) if s]
            if sentences:
                out.append((rec["title"].strip(), sentences))
    return out


def load_queries(folder: Path, n: int, seed: int = 0) -> list[str]:
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    random.Random(seed).shuffle(texts)
    return texts[:n]


def base_vectors(corpus: list[tuple[str, list[str]]], n: int, cache: Path) -> np.ndarray:
    """Real MiniLM vectors of the first n abstracts, cached in `cache`."""
    path = cache / f"base-vectors-{n}.npy"
    if path.exists():
        return np.load(path)
    from ragkit.embedding.encoder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(batch_size=32)
    vectors = embedder.embed_documents([f"{title}\n{' '.join(s)}" for title, s in corpus[:n]])
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def synthetic_batches(size: int, corpus, vectors: np.ndarray, seed: int = 0):
    """(rows, chunks, vectors, texts) batches for write_documents, `size` chunks in all."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    made, doc_no = 0, 0
    while made < size:
        rows, chunks, vecs, texts, batch = [], {}, {}, {}, 0
        while made < size and batch < BATCH_CHUNKS:
            row, doc_chunks, doc_vectors, text = _document(rng, nrng, corpus, vectors, doc_no, min(rng.randint(4, 16), size - made))
            rows.append(row)
            chunks[row.doc_id], vecs[row.doc_id], texts[row.doc_id] = doc_chunks, doc_vectors, text
            made += row.chunks
            batch += row.chunks
            doc_no += 1
        yield rows, chunks, vecs, texts


def _document(rng: random.Random, nrng: np.random.Generator, corpus, vectors: np.ndarray, doc_no: int, n: int):
    """One synthetic document of n chunks about a topic abstract: its row, chunks, vectors and text."""
    from ingest.chunking import chunk_id_for
    from ragkit.fingerprints import doc_id_for
    from ragkit.storage.manifest import DocumentRow, now_iso
    from ragkit.types import Chunk

    topic = rng.randrange(len(vectors))
    title = corpus[topic][0]
    source = f"synthetic/{doc_no:07d}.txt"
    doc_id = doc_id_for(COLLECTION, source)
    chunks, mains, offset = [], [], 0
    for ordinal in range(n):
        main = topic if rng.random() < 0.5 else rng.randrange(len(vectors))
        text = _chunk_text(rng, corpus, main, rng.randint(100, 200))
        embed_text = f"{title}\n{text}"
        meta = {"source": source, "root": "synthetic", "doc_id": doc_id, "ordinal": ordinal, "element_type": "text", "doc_type": "text", "title": title}
        chunks.append(Chunk(chunk_id_for(doc_id, ordinal, embed_text), doc_id, ordinal, text, embed_text, offset, offset + len(text), meta))
        mains.append(main)
        offset += len(text) + 2
    text = "\n\n".join(c.text for c in chunks)
    dim = vectors.shape[1]
    mix = vectors[mains] + 0.35 * vectors[topic] + nrng.normal(0.0, NOISE / np.sqrt(dim), (n, dim))
    row = DocumentRow(
        doc_id=doc_id, collection=COLLECTION, source=source, root="synthetic", container=source, container_hash=None,
        file_hash=None, content_hash=f"{doc_no:x}", settings_fp="query_growth", bytes=len(text.encode()), mtime=None,
        doc_type="text", status="indexed", last_error=None, chunks=n, ingested_at=now_iso(),
    )
    return row, chunks, (mix / np.linalg.norm(mix, axis=1, keepdims=True)).astype(np.float32), text


def _chunk_text(rng: random.Random, corpus, main: int, words: int) -> str:
    """A run of `main`'s sentences from a random start, topped up with runs from other abstracts."""
    out, count, doc = [], 0, main
    while count < words:
        sentences = corpus[doc][1]
        start = rng.randrange(len(sentences))
        for s in sentences[start:]:
            out.append(s)
            count += s.count(" ") + 1
            if count >= words:
                break
        doc = rng.randrange(len(corpus))
    return " ".join(out)


def build_home(home: Path, size: int, corpus, vectors: np.ndarray) -> dict:
    """Write `size` synthetic chunks into a fresh home; the build timings."""
    from ragkit.knowledge_base import open_kb

    shutil.rmtree(home, ignore_errors=True)
    t0 = time.perf_counter()
    gen_s = write_s = 0.0
    documents = 0
    with open_kb(home=home) as kb:
        kb.lock_for_writing("query_growth build")
        store = kb.store(COLLECTION, create=True)
        batches = synthetic_batches(size, corpus, vectors)
        while True:
            t = time.perf_counter()
            batch = next(batches, None)
            gen_s += time.perf_counter() - t
            if batch is None:
                break
            rows, chunks, vecs, texts = batch
            t = time.perf_counter()
            store.write_documents(rows, chunks, vecs, texts)
            write_s += time.perf_counter() - t
            documents += len(rows)
        t = time.perf_counter()
        store.rebuild_bm25()
        bm25_s = time.perf_counter() - t
        count = store.vectors.count()
    total = time.perf_counter() - t0
    return {
        "chunks": count,
        "documents": documents,
        "seconds": round(total, 1),
        "generate_s": round(gen_s, 1),
        "write_s": round(write_s, 1),
        "bm25_s": round(bm25_s, 1),
        "peak_rss_mb": _peak_rss_mb(),
        "disk_mb": _disk_mb(home),
    }


def measure(home: Path, queries: list[str], k: int = 10, torch_threads: int = 0) -> dict:
    """Open the home and time each mode over the queries (run in a fresh process)."""
    import torch

    from ragkit.knowledge_base import open_kb
    from ragkit.retrieval import HybridRetriever

    if torch_threads:
        torch.set_num_threads(torch_threads)
    with open_kb(home=home) as kb:
        embedder = kb.embedder
        embedder.embed_query("warm up")
        rss_model = _rss_mb()
        t = time.perf_counter()
        store = kb.store(COLLECTION)
        collection = kb.collection(COLLECTION)
        first = collection.query(queries[0], k=k)
        cold_ms = (time.perf_counter() - t) * 1000
        rss_open = _rss_mb()
        embed_ms, vectors = [], {}
        for q in queries:
            t = time.perf_counter()
            vectors[q] = embedder.embed_query(q)
            embed_ms.append((time.perf_counter() - t) * 1000)
        fixed = HybridRetriever(store, _FixedEmbedder(vectors, embedder), alpha=kb.settings.hybrid_alpha, depth=kb.settings.fusion_depth)
        runs = {
            "hybrid_e2e": lambda q: collection.query(q, k=k),
            "hybrid": lambda q: fixed.query(q, k=k),
            "dense": lambda q: fixed.query(q, k=k, mode="dense"),
            "bm25": lambda q: fixed.query(q, k=k, mode="bm25"),
        }
        timings, hits = {}, []
        for name, run in runs.items():
            for q in queries[:10]:  # warm-up
                run(q)
            ms = []
            for q in queries:
                t = time.perf_counter()
                result = run(q)
                ms.append((time.perf_counter() - t) * 1000)
                if name == "hybrid":
                    hits.append(len(result.hits))
            timings[name] = _stats(ms)
        chunks = store.vectors.count()
    top = first.hits[0] if first.hits else None
    return {
        "chunks": chunks,
        "queries": len(queries),
        "k": k,
        "latency_ms": timings,
        "embed_query_ms": _stats(embed_ms),
        "cold_first_query_ms": round(cold_ms, 1),
        "hybrid_hits": {"queries_with_hits": sum(1 for h in hits if h), "mean_hits": round(float(np.mean(hits)), 2)},
        "example": {"query": queries[0], "top_chunk_id": top and top.chunk_id, "top_score": top and top.score},
        "rss_mb": {"model_loaded": rss_model, "after_open": rss_open, "after_queries": _rss_mb(), "peak": _peak_rss_mb()},
        "torch_threads": torch.get_num_threads(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


class _FixedEmbedder:
    """The embedder, but queries take their precomputed vector (retrieval-only timings)."""

    def __init__(self, vectors: dict[str, np.ndarray], inner):
        self._vectors = vectors
        self._inner = inner

    def embed_query(self, text: str) -> np.ndarray:
        return self._vectors[text]

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _stats(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2), "mean": round(float(a.mean()), 2)}


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def _peak_rss_mb() -> float:
    """This process's high-water RSS (VmHWM: unlike ru_maxrss, not inherited from the parent across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _disk_mb(folder: Path) -> dict:
    parts = {"manifest": 0, "chroma": 0, "bm25": 0, "total": 0}
    for p in folder.rglob("*"):
        if p.is_file():
            size = p.stat().st_size
            parts["total"] += size
            top = p.relative_to(folder).parts[0]
            key = "manifest" if top.startswith("manifest") else top
            if key in parts:
                parts[key] += size
    return {k: round(v / 2**20, 1) for k, v in parts.items()}


def _child(mode: str, args: list[str]) -> dict:
    """Run one build or measurement in a fresh interpreter; its JSON result."""
    out = Path(args[0]).with_suffix(f".{mode}.json")
    out.unlink(missing_ok=True)
    subprocess.run([sys.executable, __file__, f"--{mode}", *args, str(out)], check=True)
    return json.loads(out.read_text())


def run_size(size: int, cache: Path, queries_n: int, vectors_path: Path, data: Path, torch_threads: int = 0) -> dict:
    """Build the home of one size unless cached, then time it in a fresh process."""
    home = cache / f"home-{size}-{vectors_path.stem}"
    marker = home / "query_growth.json"
    if marker.exists():
        build = {**json.loads(marker.read_text()), "cached": True}
    else:
        build = _child("build", [str(home), str(data), str(size), str(vectors_path)])
        marker.write_text(json.dumps(build))
        build["cached"] = False
    result = _child("measure", [str(home), str(data), str(queries_n), str(torch_threads)])
    return {"size": size, "build": build, **result}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("--build", "--measure"):  # a child process (see _child)
        return _child_main(argv[0][2:], argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", help="comma-separated chunk counts, e.g. 10000,100000")
    ap.add_argument("--out", help="write the JSON here as well as to stdout")
    ap.add_argument("--cache", default="/work/scratch/growth", help="where the built homes are kept")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--base-docs", type=int, default=1000, help="SciFact abstracts embedded with MiniLM as the vectors' base")
    ap.add_argument("--torch-threads", type=int, default=0, help="torch threads for the query embedding (0: torch's default)")
    ap.add_argument("--data", default=str(SCIFACT), help="a BEIR folder (corpus.jsonl, queries.jsonl)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    data = Path(args.data)
    corpus = load_corpus(data)
    base_docs = min(args.base_docs, len(corpus))
    base_vectors(corpus, base_docs, cache)
    vectors_path = cache / f"base-vectors-{base_docs}.npy"
    results = [run_size(size, cache, args.queries, vectors_path, data, args.torch_threads) for size in sizes]
    report = {
        "benchmark": "query_growth",
        "texts": TEXTS,
        "vectors": VECTORS,
        "base_docs": base_docs,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": {p: _version(p) for p in ("chromadb", "bm25s", "numpy", "torch", "sentence-transformers")},
        "date": time.strftime("%Y-%m-%d"),
        "results": results,
    }
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


def _child_main(mode: str, args: list[str]) -> int:
    from ragkit.process_defaults import apply_defaults

    apply_defaults()
    home, data, out = Path(args[0]), Path(args[1]), Path(args[-1])
    if mode == "build":
        result = build_home(home, int(args[2]), load_corpus(data), np.load(args[3]))
    else:
        result = measure(home, load_queries(data, int(args[2])), torch_threads=int(args[3]))
    out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
