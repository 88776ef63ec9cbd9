"""Replay answer policies offline on a finished eval's report.json (no model runs): what-if figures for tuning.

    python benchmarks/replay_policy.py docs/results/wiki-bio/report.json out/wiki-bio/evalset.jsonl --methods rag,lora-rag

For each method whose answers carry `details.model_answer`, `details.grounded` and
`details.evidence` (the retrieval methods), scores: the answers as given; the model's raw answer
(no abstention); the evidence sentence always; and "fall back to the evidence sentence when the
answer is ungrounded" over a grid of thresholds. Tune on one set, confirm on another.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ragkit.evaluation.evalset import EvalQuestion, load_evalset
from ragkit.evaluation.metrics import accuracy
from ragkit.methods.abstain import says_unknown
from ragkit.textnorm import grounded_fraction


def policy_answer(details: dict, given: dict, policy: str, g_min: float = 0.0, e_min: float = 0.0) -> tuple[str, bool]:
    """(response, abstained) under a policy, from what the method recorded."""
    raw = details.get("model_answer") or given.get("answer", "")
    evidence = details.get("evidence") or {}
    if policy == "given":
        return given.get("answer", ""), bool(given.get("abstained"))
    if policy == "raw":
        return raw, says_unknown(raw) or not raw.strip()
    if policy == "evidence":  # the best-matching source sentence; abstain when it matches weakly
        return (evidence["text"], False) if evidence and evidence.get("score", 0) >= e_min else ("", True)
    if policy == "agree":  # the model's answer when it comes from the evidence sentence, else that sentence
        if not evidence or evidence.get("score", 0) < e_min:
            return "", True
        if raw.strip() and not says_unknown(raw) and grounded_fraction(raw, evidence["text"]) >= g_min:
            return raw, False
        return evidence["text"], False
    # fallback: keep a grounded answer; otherwise the evidence sentence when it is strong enough; else abstain
    grounded = details.get("grounded")
    if raw.strip() and not says_unknown(raw) and (grounded is None or grounded >= g_min):
        return raw, False
    if evidence and evidence.get("score", 0) >= e_min:
        return evidence["text"], False
    return "", True


def score(rows: list[tuple[EvalQuestion, dict]], **kw) -> dict:
    acc, abst = [], []
    for q, a in rows:
        response, abstained = policy_answer(a.get("details") or {}, a, **kw)
        if q.answerable:
            acc.append(0.0 if abstained else accuracy(response, q))
        else:
            abst.append(1.0 if abstained else 0.0)
    return {"accuracy": round(sum(acc) / len(acc), 4) if acc else None, "abstain_accuracy": round(sum(abst) / len(abst), 4) if abst else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("evalset", type=Path, help="the eval set the report ran (for aliases and wrong values)")
    ap.add_argument("--methods", default="rag")
    args = ap.parse_args()
    report = json.loads(args.report.read_text())
    questions = {q.id: q for q in load_evalset(args.evalset)}
    out = {}
    for m in args.methods.split(","):
        rows = []
        for item in report["questions"]:
            got = item["results"].get(m, {}).get("answer")
            if got is None or "error" in got:
                continue
            rows.append((questions[item["id"]], got))
        if not rows:
            continue
        res = {"n": len(rows), "given": score(rows, policy="given"), "raw": score(rows, policy="raw")}
        res["evidence"] = {f"e{e}": score(rows, policy="evidence", e_min=e) for e in (0.0, 0.3, 0.4, 0.5, 0.6)}
        res["agree"] = {f"g{g}_e{e}": score(rows, policy="agree", g_min=g, e_min=e) for g in (0.5, 0.67, 0.8, 1.0) for e in (0.5,)}
        res["fallback"] = {f"g{g}_e{e}": score(rows, policy="fallback", g_min=g, e_min=e) for g in (0.5, 0.67, 0.8) for e in (0.3, 0.5, 0.6)}
        out[m] = res
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
