"""benchmarks/answer_policy_heldout.py: the span threshold's trade-off, replayed from recorded answers."""

from __future__ import annotations

from tests.conftest import load_benchmark


def row(answer: str, logprob: float | None, strict: float, unanswerable: bool = False, abstained: bool = False) -> dict:
    details = {"span": {"logprob": logprob}} if logprob is not None else {}
    return {"answer": {"answer": answer, "abstained": abstained, "details": details}, "strict": strict, "unanswerable": unanswerable}


def test_a_threshold_abstains_below_it_and_scores_those_as_wrong_or_right():
    mod = load_benchmark("answer_policy_heldout")
    rows = [
        row("EUR 62", -0.5, 1.0),
        row("the blue one", -3.2, 0.0),
        row("Harwick", -4.0, 0.0, unanswerable=True),
        row("I don't know", None, 0.0, unanswerable=True, abstained=True),
    ]
    none, cut = mod.sweep(rows, thresholds=(-100.0, -3.0))
    assert none == {"threshold": -100.0, "strict_accuracy": 0.5, "false_abstain_rate": 0.0, "abstain_accuracy": 0.5, "answer_words_median": 2.5}
    assert cut == {"threshold": -3.0, "strict_accuracy": 0.5, "false_abstain_rate": 0.5, "abstain_accuracy": 1.0, "answer_words_median": 2}
