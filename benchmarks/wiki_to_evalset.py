"""Turn a wiki-newpages-2023-qa subset into a ragkit corpus (one Markdown file per article) and a seeded, stratified eval set.

    python benchmarks/wiki_to_evalset.py ../shared/data/wiki-newpages-2023-qa/bio out/wiki-bio --sample 120 --seed 0

Writes `corpus/<title>.md` and `evalset.jsonl` (SPEC format: id, question, answer, source, kind).
The kind is the question's wh-word (when / where / what / who / which / how / other), and the
sample is stratified over it. Pairs flagged `also_in_original_train_qa` are listed in
`train_leak_ids.txt`; ragkit's fine-tuning uses the documents only, so they never reach training.
With `--hold-out-docs N`, N seeded documents stay out of the corpus and `--unanswerable M` of their
questions join the eval set as UNANSWERABLE (kind `unanswerable`): what abstention is tuned on.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from pathlib import Path

KINDS = ("when", "where", "what", "who", "which", "how")


def kind_of(question: str) -> str:
    first = question.strip().split()[0].lower() if question.strip() else ""
    return first if first in KINDS else "other"


def file_name(title: str, taken: set[str]) -> str:
    stem = re.sub(r"[^\w().,' -]+", "", title).strip().replace("/", "-") or "article"
    name, n = f"{stem}.md", 2
    while name.lower() in taken:
        name, n = f"{stem} ({n}).md", n + 1
    taken.add(name.lower())
    return name


def stratified(rows: list[dict], size: int, seed: int) -> list[dict]:
    """Proportional allocation per kind (largest remainder), seeded; the order of the source file is kept."""
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    quotas = {k: size * len(v) / len(rows) for k, v in by_kind.items()}
    take = {k: int(q) for k, q in quotas.items()}
    for k in sorted(quotas, key=lambda k: quotas[k] - take[k], reverse=True)[: size - sum(take.values())]:
        take[k] += 1
    rng = random.Random(seed)
    chosen = {id(r) for k, v in by_kind.items() for r in rng.sample(v, take[k])}
    return [r for r in rows if id(r) in chosen]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("subset", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--sample", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hold-out-docs", type=int, default=0, help="documents left out of the corpus")
    ap.add_argument("--unanswerable", type=int, default=0, help="questions about the left-out documents, as UNANSWERABLE")
    args = ap.parse_args()

    docs = [json.loads(line) for line in (args.subset / "documents.jsonl").open(encoding="utf-8")]
    qa = [json.loads(line) for line in (args.subset / "qa.jsonl").open(encoding="utf-8")]
    corpus = args.out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    source = {}
    left_out = {d["doc_id"] for d in random.Random(args.seed).sample(docs, args.hold_out_docs)} if args.hold_out_docs else set()
    docs = [d for d in docs if d["doc_id"] not in left_out]
    for d in docs:
        source[d["doc_id"]] = name = file_name(d["title"], taken)
        (corpus / name).write_text(f"# {d['title']}\n\n{d['text'].strip()}\n", encoding="utf-8")
    rows = [
        {"id": q["qid"], "question": q["question"], "answer": q["answer"].strip().rstrip("."), "source": source[q["doc_id"]], "kind": kind_of(q["question"])}
        for q in qa
        if q["doc_id"] not in left_out
    ]
    sample = stratified(rows, min(args.sample, len(rows)), args.seed)
    about_left_out = [q for q in qa if q["doc_id"] in left_out]
    for q in random.Random(args.seed).sample(about_left_out, min(args.unanswerable, len(about_left_out))):
        sample.append({"id": q["qid"], "question": q["question"], "answer": "UNANSWERABLE", "source": [], "kind": "unanswerable"})
    with (args.out / "evalset.jsonl").open("w", encoding="utf-8") as fh:
        for r in sample:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    leaks = [q["qid"] for q in qa if q.get("also_in_original_train_qa")]
    (args.out / "train_leak_ids.txt").write_text("".join(f"{i}\n" for i in leaks), encoding="utf-8")
    kinds = defaultdict(int)
    for r in sample:
        kinds[r["kind"]] += 1
    print(json.dumps({"documents": len(docs), "qa": len(qa), "sample": len(sample), "kinds": dict(sorted(kinds.items())), "flagged_train_leaks": len(leaks), "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
