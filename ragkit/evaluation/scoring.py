"""Per-question scores and per-method aggregates for an eval run."""

from __future__ import annotations

from typing import Any

from ragkit.evaluation.evalset import EvalQuestion
from ragkit.evaluation.metrics import accuracy, exact_match, retrieval_rank, strict_accuracy, token_f1
from ragkit.evaluation.statistics import bootstrap_ci, mcnemar_p, mean, percentile


def _uses_retrieval(method: str) -> bool:
    from ragkit.methods import METHODS

    cls = METHODS.get(method)
    return bool(cls and cls.uses_retrieval)


def score_row(q: EvalQuestion, answer: dict[str, Any]) -> dict[str, Any]:
    """Scores of one method's answer to one question (None where a metric does not apply)."""
    if "error" in answer:
        return {"error": answer["error"]}
    text = answer["answer"]
    abstained = bool(answer["abstained"])
    details = answer.get("details") or {}
    row: dict[str, Any] = {"abstained": abstained}
    if q.answerable:
        response = "" if abstained else text
        row.update(
            accuracy=accuracy(response, q), strict_accuracy=strict_accuracy(response, q), exact_match=exact_match(response, q),
            f1=token_f1(response, q), false_abstain=float(abstained),
        )
    else:
        row.update(accuracy=None, strict_accuracy=None, exact_match=None, f1=None, abstain_correct=float(abstained))
    if not abstained:  # whose words: the model's own, or a sentence quoted from a source (the evidence policy)
        row["answer_from"] = details.get("answer_from") or "model"
    retrieved = [r["source"] for r in details.get("retrieved") or []]
    if q.answerable and q.source and retrieved and _uses_retrieval(answer["method"]):
        rank = retrieval_rank(retrieved, q.source)
        row.update(hit_at_1=float(rank == 1), hit_at_5=float(rank is not None and rank <= 5), rr=(1.0 / rank) if rank else 0.0)
    if q.answerable and q.source and "sources_in_context" in details:
        row["gold_in_context"] = float(bool(set(q.source) & set(details["sources_in_context"])))
    row["grounded"] = details.get("grounded")
    row["latency_ms"] = answer.get("latency_ms")
    usage = answer.get("usage") or {}
    row["prompt_tokens"] = usage.get("prompt_tokens")
    row["answer_tokens"] = usage.get("completion_tokens")
    row["answer_words"] = None if answer.get("abstained") else len(str(answer.get("answer") or "").split())
    if "route" in details:
        row["route"] = details["route"]
    return row


def _r(v: float | None, nd: int = 4) -> float | None:
    return None if v is None else round(v, nd)


def aggregate(questions: list[EvalQuestion], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A method's summary over questions (answer metrics and retrieval over answerable ones)."""
    ok = [(q, r) for q, r in zip(questions, rows) if "error" not in r]
    ans = [(q, r) for q, r in ok if q.answerable]
    unans = [(q, r) for q, r in ok if not q.answerable]
    acc = [r["accuracy"] for _, r in ans]
    strict = [r.get("strict_accuracy", r["accuracy"]) for _, r in ans]
    latencies = [r["latency_ms"] for _, r in ok if r.get("latency_ms") is not None]
    hits5 = [r["hit_at_5"] for _, r in ans if "hit_at_5" in r]
    return {
        "n": len(ok),
        "n_answerable": len(ans),
        "errors": len(rows) - len(ok),
        "accuracy": _r(mean(acc)),
        "strict_accuracy": _r(mean(strict)),
        "exact_match": _r(mean([r["exact_match"] for _, r in ans])),
        "f1": _r(mean([r["f1"] for _, r in ans])),
        "abstain_accuracy": _r(mean([r["abstain_correct"] for _, r in unans])),
        "false_abstain_rate": _r(mean([r["false_abstain"] for _, r in ans])),
        "retrieval_hit_at_1": _r(mean([r["hit_at_1"] for _, r in ans if "hit_at_1" in r])),
        "retrieval_hit_at_5": _r(mean(hits5)),
        "mrr": _r(mean([r["rr"] for _, r in ans if "rr" in r])),
        "gold_in_context": _r(mean([r["gold_in_context"] for _, r in ans if "gold_in_context" in r])),
        "groundedness": _r(mean([r.get("grounded") for _, r in ok])),
        "latency_p50_ms": _r(percentile(latencies, 50), 1),
        "latency_p95_ms": _r(percentile(latencies, 95), 1),
        "prompt_tokens_mean": _r(mean([r["prompt_tokens"] for _, r in ok]), 1),
        "prompt_tokens_total": sum(r["prompt_tokens"] or 0 for _, r in ok),
        "answer_tokens_mean": _r(mean([r["answer_tokens"] for _, r in ok]), 2),
        "answer_tokens_total": sum(r["answer_tokens"] or 0 for _, r in ok),
        "answer_words_median": percentile([r["answer_words"] for _, r in ok if r.get("answer_words") is not None], 50),
        "ci95": bootstrap_ci(acc),
        "strict_ci95": bootstrap_ci(strict),
        "answer_from": _answer_from(ans),
    }


def _answer_from(ans: list) -> dict[str, dict[str, Any]]:
    """Per origin of the answer's words (`model`: its own; `span`: a span of a source it chose; `evidence`:
    a quoted source sentence): how many answers, and their accuracies."""
    out: dict[str, dict[str, Any]] = {}
    for origin in ("model", "span", "evidence"):
        rows = [r for _, r in ans if r.get("answer_from") == origin]
        out[origin] = {
            "n": len(rows),
            "accuracy": _r(mean([r["accuracy"] for r in rows])),
            "strict_accuracy": _r(mean([r.get("strict_accuracy", r["accuracy"]) for r in rows])),
        }
    return out


def by_kind(questions: list[EvalQuestion], rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        kinds.setdefault(q.kind or "unlabelled", []).append(i)
    out = {}
    for kind, idx in sorted(kinds.items()):
        sub_q = [questions[i] for i in idx]
        sub_r = [rows[i] for i in idx]
        agg = aggregate(sub_q, sub_r)
        out[kind] = {k: agg[k] for k in ("n", "n_answerable", "accuracy", "strict_accuracy", "f1", "abstain_accuracy", "retrieval_hit_at_5")}
    return out


def paired(questions: list[EvalQuestion], rows_by_method: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every pair of methods on the answerable questions both answered: strict accuracy difference (a - b) and McNemar p."""
    names = list(rows_by_method)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            xa, xb = [], []
            for j, q in enumerate(questions):
                ra, rb = rows_by_method[a][j], rows_by_method[b][j]
                if q.answerable and "error" not in ra and "error" not in rb:
                    xa.append(ra.get("strict_accuracy", ra["accuracy"]))
                    xb.append(rb.get("strict_accuracy", rb["accuracy"]))
            diff = (sum(xa) - sum(xb)) / len(xa) if xa else None
            out.append({"a": a, "b": b, "n": len(xa), "diff": _r(diff), "p_value": mcnemar_p(xa, xb)})
    return out
