"""`--adapt train` judged on held-out train queries: where its knobs were chosen, never on test.

    python benchmarks/adapt_heldout.py ../shared/data/beir-scifact --workdir /work/scratch/holdout [--passes 3] [--out dev.json]

The train queries are split by a hash of their id (sha256 mod 5 == 0: held out, 158 of SciFact's
809); a folder is written holding the corpus, the queries, `qrels/train.tsv` with the other 80%
and `qrels/dev.tsv` with the held-out 20% (no test qrels). `bench retrieval --adapt train
--split dev` then tunes on the 80% and scores the untuned and the tuned embedder on the 20%.
With `--from-home` a home that already holds the ingested corpus on the base model is copied
instead of ingesting again (benchmarks/scifact_retrieval.sh keeps one in .bench-scifact/base).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

HEADER = "query-id\tcorpus-id\tscore"


def held_out(qid: str) -> bool:
    return int(hashlib.sha256(qid.encode()).hexdigest(), 16) % 5 == 0


def split_folder(beir: Path, dest: Path) -> dict[str, int]:
    """Write the held-out folder (links to corpus and queries; train/dev qrels from the train qrels); returns query counts."""
    (dest / "qrels").mkdir(parents=True, exist_ok=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        link = dest / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to((beir / name).resolve())
    rows = [line for line in (beir / "qrels" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    parts: dict[str, list[str]] = {"train": [], "dev": []}
    for line in rows:
        parts["dev" if held_out(line.split("\t")[0]) else "train"].append(line)
    for name, lines in parts.items():
        (dest / "qrels" / f"{name}.tsv").write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return {name: len({line.split("\t")[0] for line in lines}) for name, lines in parts.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("beir", type=Path, help="a BEIR folder with qrels/train.tsv")
    ap.add_argument("--workdir", type=Path, required=True, help="where the split folder and the home go")
    ap.add_argument("--from-home", type=Path, help="copy this home (the corpus ingested on the base model) instead of ingesting")
    ap.add_argument("--passes", type=int, help="passes over the pairs (default: ragkit's)")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    import ragkit.cli.bench_retrieval as br
    import ragkit.embedding.tuning as embedders

    folder = args.workdir / args.beir.name  # the collection is named after the folder, as for the plain run
    queries = split_folder(args.beir, folder)
    home = args.workdir / "home"
    shutil.rmtree(home, ignore_errors=True)
    if args.from_home:
        shutil.copytree(args.from_home, home)
    if args.passes:
        tune = embedders.tune_embeddings

        def with_passes(kb, collection, **kw):
            return tune(kb, collection, settings=embedders.TuneSettings(passes=args.passes), **kw)

        embedders.tune_embeddings = with_passes  # adapt_embedder imports it at call time
    started = time.time()
    result = br.bench_retrieval_run(folder, adapt="train", split="dev", home=home)
    result["heldout"] = {"queries": queries, "rule": "sha256(query id) % 5 == 0", "passes": args.passes or embedders.TuneSettings().passes}
    result["wall_s"] = round(time.time() - started, 1)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
