"""Choose the answer policy's defaults on held-out data: rag under each policy setting, and the span threshold.

    python benchmarks/wiki_to_evalset.py ../shared/data/wiki-newpages-2023-qa/film out/heldout-film \\
        --sample 80 --seed 7 --hold-out-docs 30 --unanswerable 20
    python benchmarks/answer_policy_heldout.py out/heldout-film --out docs/results/answer-policy-heldout

Each configuration (`name=JSON settings`, default: the evidence policy and the span policy over 1
and 3 sentences) runs `rag` over the eval set with no span threshold; then, offline, each threshold
on the chosen span's mean log-probability is applied to the recorded answers: strict accuracy
(an abstention on an answerable question counts wrong), false-abstain rate, abstain accuracy on the
UNANSWERABLE questions, median answer length. Prints JSON; resumable (the eval answer cache).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

DEFAULT_CONFIGS = (
    'evidence={"answer_policy": "evidence"}',
    'span1={"answer_policy": "span", "span_sentences": 1, "span_min_logprob": -100}',
    'span3={"answer_policy": "span", "span_sentences": 3, "span_min_logprob": -100}',
)
THRESHOLDS = (-100.0, -6.0, -5.0, -4.0, -3.5, -3.0, -2.5, -2.0, -1.5)


def sweep(rows: list[dict], thresholds=THRESHOLDS) -> list[dict]:
    """The abstention trade-off of a threshold on the span's log-probability, from recorded answers."""
    out = []
    for t in thresholds:
        strict, false_abstain, abstain_ok, words = [], [], [], []
        for r in rows:
            a = r["answer"]
            lp = ((a.get("details") or {}).get("span") or {}).get("logprob")
            abstained = a["abstained"] or (lp is not None and lp < t)
            if r["unanswerable"]:
                abstain_ok.append(float(abstained))
                continue
            false_abstain.append(float(abstained))
            strict.append(0.0 if abstained else r["strict"])
            if not abstained:
                words.append(len(a["answer"].split()))
        out.append({
            "threshold": t,
            "strict_accuracy": round(statistics.fmean(strict), 4) if strict else None,
            "false_abstain_rate": round(statistics.fmean(false_abstain), 4) if false_abstain else None,
            "abstain_accuracy": round(statistics.fmean(abstain_ok), 4) if abstain_ok else None,
            "answer_words_median": statistics.median(words) if words else None,
        })  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="a folder with corpus/ and evalset.jsonl (benchmarks/wiki_to_evalset.py)")
    ap.add_argument("--home", type=Path, default=Path(".heldout-home"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--config", action="append", help="name=JSON settings (repeatable)")
    args = ap.parse_args()

    import ragkit

    args.out.mkdir(parents=True, exist_ok=True)
    with ragkit.open(args.home) as kb:
        kb.collection("heldout").ingest(args.data / "corpus", prune=True)
    results = {}
    for spec in args.config or DEFAULT_CONFIGS:
        name, settings = spec.split("=", 1)
        with ragkit.open(args.home, **json.loads(settings)) as kb:
            summary = kb.collection("heldout").evaluate(args.data / "evalset.jsonl", methods=["rag"], out=args.out / name)
        report = json.loads((args.out / name / "report.json").read_text())
        rows = [
            {"answer": q["results"]["rag"]["answer"], "strict": q["results"]["rag"]["scores"].get("strict_accuracy") or 0.0, "unanswerable": q["answer"] == "UNANSWERABLE"}
            for q in report["questions"]
        ]
        m = summary.methods["rag"]
        results[name] = {"settings": json.loads(settings), "strict_accuracy": m["strict_accuracy"], "accuracy": m["accuracy"], "sweep": sweep(rows)}
        print(json.dumps({name: results[name]}), file=sys.stderr)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
