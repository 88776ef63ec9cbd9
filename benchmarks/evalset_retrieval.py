"""Gold-source retrieval on an eval set: hit@1, hit@5 and MRR of the top-10 chunks, printed as JSON.

    python benchmarks/evalset_retrieval.py examples/corpus examples/evalset.jsonl [--mode hybrid] [--home DIR]

A hit is any of the question's sources among the top-k chunks (an e-mail's attachments and an
archive's members count as their own sources). UNANSWERABLE questions are left out.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("evalset")
    ap.add_argument("--mode", default="hybrid")
    ap.add_argument("--home")
    ap.add_argument("-k", type=int, default=10)
    args = ap.parse_args()

    import ragkit

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="ragkit-evalret-"))
    rows = [json.loads(line) for line in Path(args.evalset).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("answer") != "UNANSWERABLE" and r.get("source")]
    hit1 = hit5 = 0
    rr = 0.0
    misses = []
    try:
        with ragkit.open(home) as kb:
            col = kb.collection("evalret")
            col.ingest(args.corpus)
            for r in rows:
                gold = {r["source"]} if isinstance(r["source"], str) else set(r["source"])
                ranked = [h.source for h in col.query(r["question"], k=args.k, mode=args.mode).hits]
                first = next((i for i, s in enumerate(ranked) if s in gold), None)
                if first is not None:
                    rr += 1.0 / (first + 1)
                    hit1 += first == 0
                    hit5 += first < 5
                if first is None or first >= 5:
                    misses.append({"id": r["id"], "question": r["question"], "gold": sorted(gold), "top5": ranked[:5]})
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    n = len(rows)
    print(json.dumps({"n": n, "mode": args.mode, "hit@1": round(hit1 / n, 4), "hit@5": round(hit5 / n, 4), "mrr@10": round(rr / n, 4), "misses": misses}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
