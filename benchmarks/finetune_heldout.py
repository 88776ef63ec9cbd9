"""Which fine-tuning recipe teaches `lora` (closed-book through the adapter) facts it can recall, on held-out documents.

    python benchmarks/finetune_heldout.py ../shared/data/wiki-newpages-2023-qa/film --workdir /tmp/ft-heldout \\
        --recipe facts-r8-attn:facts:8:attention:steps=150 --recipe facts-r32-all:facts:32:all-linear:steps=150 \\
        [--docs 30 --seed 0] [--baseline] [--results docs/results/finetune-heldout/results.jsonl]

A seeded sample of `--docs` documents of a wiki-newpages-2023-qa subset (articles created in
2023, after the base model's training data) is written as Markdown files with all of their QA
pairs as the eval set (benchmarks/wiki_to_evalset.py does the same for the bio set), ingested
into a home, and for each recipe NAME:BUILDERS:RANK:TARGETS:steps=N|epochs=E (NAME is an adapter name: letters, digits, - and _) an adapter is
trained (`ragkit finetune --exclude-eval`, so eval questions and their near duplicates are
never trained on) and scored with `ragkit eval --methods lora --adapter NAME`. One JSON line per
recipe is printed and appended to `--results`; recipes already there are skipped (resumable).
`--baseline` adds the base model closed-book (no adapter) as the row "closed-book". `--methods
lora,lora-rag` scores each adapter with both methods (the first method's figures lead the row).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAGKIT = [sys.executable, "-m", "ragkit.cli"]


def wiki_module():
    spec = importlib.util.spec_from_file_location("wiki_to_evalset", HERE / "wiki_to_evalset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_set(subset: Path, dest: Path, docs: int, seed: int) -> dict:
    """corpus/<title>.md for a seeded sample of documents, evalset.jsonl with every QA pair of them."""
    wiki = wiki_module()
    documents = [json.loads(line) for line in (subset / "documents.jsonl").open(encoding="utf-8")]
    qa = [json.loads(line) for line in (subset / "qa.jsonl").open(encoding="utf-8")]
    chosen = sorted(random.Random(seed).sample(range(len(documents)), min(docs, len(documents))))
    corpus = dest / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    source = {}
    for i in chosen:
        d = documents[i]
        source[d["doc_id"]] = name = wiki.file_name(d["title"], taken)
        (corpus / name).write_text(f"# {d['title']}\n\n{d['text'].strip()}\n", encoding="utf-8")
    rows = [
        {"id": q["qid"], "question": q["question"], "answer": q["answer"].strip().rstrip("."), "source": source[q["doc_id"]], "kind": wiki.kind_of(q["question"])}
        for q in qa
        if q["doc_id"] in source
    ]
    with (dest / "evalset.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return {"documents": len(chosen), "questions": len(rows)}


def ragkit(*args: str, home: Path) -> dict:
    """One `ragkit ... --json` call, niced (training shares the machine); its JSON."""
    cmd = ["nice", "-n", "5", *RAGKIT, *args, "--home", str(home), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")  # --json errors go to stdout
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parse_recipe(text: str) -> dict:
    """NAME:BUILDERS:RANK:TARGETS:steps=N|epochs=E (builders comma-separated)."""
    try:
        name, data, rank, targets, budget = text.split(":")
        key, value = budget.split("=")
        assert key in ("steps", "epochs")
        return {"name": name, "data": data, "rank": int(rank), "targets": targets, key: float(value) if key == "epochs" else int(value)}
    except (ValueError, AssertionError) as e:
        raise SystemExit(f"bad --recipe {text!r}: expected NAME:BUILDERS:RANK:TARGETS:steps=N|epochs=E") from e


def evaluate(evalset: Path, home: Path, out: Path, methods: list[str], adapter: str | None) -> dict:
    """The first method's figures at the top level, every method's under `methods`."""
    args = ["eval", str(evalset), "--methods", ",".join(methods), "--out", str(out)]
    if adapter:
        args += ["--adapter", adapter]
    t0 = time.perf_counter()
    found = ragkit(*args, home=home)["methods"]
    figures = {
        name: {"strict_accuracy": m.get("strict_accuracy"), "accuracy": m.get("accuracy"), "f1": m.get("f1"), "n": m.get("n"), "ci95": m.get("ci95")}
        for name, m in found.items()
    }
    return {**figures[methods[0]], "methods": figures, "eval_seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("subset", type=Path, help="a wiki-newpages-2023-qa subset folder (documents.jsonl, qa.jsonl)")
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--recipe", action="append", default=[], help="NAME:BUILDERS:RANK:TARGETS:steps=N|epochs=E")
    ap.add_argument("--docs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline", action="store_true", help="also score the base model closed-book")
    ap.add_argument("--methods", default="lora", help="methods scored with each adapter, comma-separated (lora, lora-rag)")
    ap.add_argument("--results", type=Path, default=HERE.parent / "docs" / "results" / "finetune-heldout" / "results.jsonl")
    args = ap.parse_args(argv)
    for k, v in (("DO_NOT_TRACK", "1"), ("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(k, v)
    recipes = [parse_recipe(r) for r in args.recipe]

    dest = args.workdir / f"{args.subset.name}-{args.docs}-s{args.seed}"
    home, evalset = dest / "home", dest / "evalset.jsonl"
    if not evalset.exists():
        print(json.dumps({"set": build_set(args.subset, dest, args.docs, args.seed)}), flush=True)
    if not (home / "manifest.sqlite3").exists():
        print(json.dumps({"ingest": ragkit("ingest", str(dest / "corpus"), home=home)}), flush=True)

    args.results.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.results.exists():
        done = {json.loads(line)["recipe"] for line in args.results.read_text().splitlines() if line.strip()}
    common = {"set": f"{args.subset.name} {args.docs} docs seed {args.seed}", "machine": f"{platform.machine()} {os.cpu_count()} cores, CPU", "date": time.strftime("%Y-%m-%d")}
    todo = recipes + ([{"name": "closed-book"}] if args.baseline else [])  # the base model rambles to max_tokens: slowest, last
    for r in todo:
        if r["name"] in done:
            continue
        row = {"recipe": r["name"], **common}
        if r["name"] == "closed-book":
            row.update(evaluate(evalset, home, dest / "eval-closed-book", ["closed-book"], None))
        else:
            budget = ["--steps", str(r["steps"])] if "steps" in r else ["--epochs", str(r["epochs"])]
            trained = ragkit(
                "finetune", "--name", r["name"], "--data", r["data"], "--rank", str(r["rank"]), "--targets", r["targets"],
                "--exclude-eval", str(evalset), *budget, home=home,
            )
            row.update(
                data=r["data"], rank=r["rank"], targets=r["targets"], examples=trained["examples"], excluded=trained["excluded"], built=trained.get("built"),
                steps=trained["steps"], train_seconds=trained["seconds"], loss_first=trained["loss_first"], loss_last=trained["loss_last"],
            )
            row.update(evaluate(evalset, home, dest / f"eval-{r['name']}", args.methods.split(","), r["name"]))
        print(json.dumps(row), flush=True)
        with args.results.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
