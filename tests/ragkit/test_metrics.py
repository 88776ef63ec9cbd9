"""Metric functions against hand-checked values; CI and paired test sanity on synthetic data."""

from __future__ import annotations

import json

import pytest

from ragkit.errors import InputError
from ragkit.evaluation.evalset import EvalQuestion, load_evalset
from ragkit.evaluation.metrics import accuracy, exact_match, retrieval_rank, token_f1
from ragkit.evaluation.runner import stratified_sample, winner
from ragkit.evaluation.scoring import aggregate, paired, score_row
from ragkit.evaluation.statistics import bootstrap_ci, mcnemar_p, percentile
from ragkit.textnorm import contains_phrase, grounded_fraction, normalize


def Q(answer="2.8 A", aliases=(), wrong=(), **kw):
    return EvalQuestion(id=kw.pop("id", "q"), question=kw.pop("question", "?"), answer=answer, aliases=list(aliases), wrong=list(wrong), **kw)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The Osprey draws 2.8A!", "osprey draws 2.8"),  # "a" (ampere) falls with the articles, on both sides alike
        ("EUR 2,940", "eur 2940"),
        ("two employees", "2 employees"),
        ("2.80 kg", "2.8 kg"),
        ("  An   Answer. ", "answer"),
        ("36\u00a0months", "36 months"),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "response, em, f1, acc",
    [
        ("2.8 A", 1.0, 1.0, 1.0),
        ("2.8 amps", 1.0, 1.0, 1.0),  # alias
        ("It draws 2.8 A at full load [1]", 0.0, 0.25, 1.0),  # 1 of 7 tokens: 2 * (1/7) / (1/7 + 1)
        ("12.8 A", 0.0, 0.0, 0.0),  # token boundary
        ("2.8 A, formerly 3.1 A", 0.0, 0.5, 0.0),  # a wrong value voids it; F1 1 of 3 tokens
        ("about 2.8A", 0.0, 2 * 0.5 * 1.0 / 1.5, 1.0),  # unit spacing
        ("", 0.0, 0.0, 0.0),
    ],
)
def test_answer_metrics(response, em, f1, acc):
    q = Q(aliases=["2.8 amps"], wrong=["3.1 A"])
    assert exact_match(response, q) == em
    assert token_f1(response, q) == pytest.approx(f1, abs=1e-9)
    assert accuracy(response, q) == acc


def test_number_words_and_thousands():
    q = Q(answer="2 days")
    assert accuracy("two days a week", q) == 1.0
    assert accuracy("EUR 9,380", Q(answer="9380")) == 1.0
    assert contains_phrase("version 3.2 ships", "3.2") and not contains_phrase("version 13.2", "3.2")


def test_grounded_fraction():
    assert grounded_fraction("36 months", "a warranty of 36 months") == 1.0
    assert grounded_fraction("48 months", "a warranty of 36 months") == 0.5
    assert grounded_fraction("the", "x") is None


def test_retrieval_rank():
    assert retrieval_rank(["a", "b", "c"], ["c", "z"]) == 3
    assert retrieval_rank(["a"], ["z"]) is None


def test_percentile_and_ci():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([], 50) is None
    lo, hi = bootstrap_ci([1.0] * 30 + [0.0] * 10)
    assert lo < 0.75 < hi and 0.5 < lo and hi < 0.95
    assert bootstrap_ci([1.0] * 10) == [1.0, 1.0]


def test_mcnemar():
    assert mcnemar_p([1, 1, 0], [1, 1, 0]) == 1.0
    assert mcnemar_p([1] * 10, [0] * 10) == pytest.approx(2 / 1024, rel=1e-3)
    assert mcnemar_p([1, 0], [0, 1]) == 1.0


def score(q, text, abstained=False, method="rag", details=None):
    return score_row(q, {"method": method, "answer": text, "abstained": abstained, "details": details or {}, "usage": {"prompt_tokens": 10, "completion_tokens": 2}, "latency_ms": 5.0})


def test_scoring_and_aggregate():
    qs = [Q(id="a", source=["x.md"]), Q(id="b", answer="UNANSWERABLE"), Q(id="c", answer="36 months", source=["y.md"])]
    rows = [
        score(qs[0], "2.8 A", details={"retrieved": [{"source": "z.md"}, {"source": "x.md"}]}),
        score(qs[1], "I don't know", abstained=True),
        score(qs[2], "I don't know", abstained=True, details={"retrieved": [{"source": "y.md"}]}),
    ]
    agg = aggregate(qs, rows)
    assert agg["n"] == 3 and agg["n_answerable"] == 2
    assert agg["accuracy"] == 0.5 and agg["abstain_accuracy"] == 1.0 and agg["false_abstain_rate"] == 0.5
    assert agg["retrieval_hit_at_5"] == 1.0 and agg["mrr"] == pytest.approx(0.75)
    assert agg["ci95"][0] <= 0.5 <= agg["ci95"][1]


def test_pairs_and_winner():
    qs = [Q(id=str(i)) for i in range(12)]
    good = [score(q, "2.8 A") for q in qs]
    bad = [score(q, "no") for q in qs]
    pairs = paired(qs, {"rag": good, "closed-book": bad})
    assert pairs == [{"a": "rag", "b": "closed-book", "n": 12, "diff": 1.0, "p_value": pytest.approx(2 / 4096, rel=1e-3)}]
    w = winner({"rag": aggregate(qs, good), "closed-book": aggregate(qs, bad)}, pairs)
    assert w["method"] == "rag" and w["margin"] == 1.0 and w["significant"] is True


def test_load_evalset_errors(tmp_path):
    good = {"id": "q1", "question": "?", "answer": "x", "source": "a.md", "extra": 1}
    p = tmp_path / "e.jsonl"
    p.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "id": "q2", "source": []}) + "\n")
    qs = load_evalset(p)
    assert [q.source for q in qs] == [["a.md"], []]
    p.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(InputError, match="line 2"):
        load_evalset(p)
    p.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(InputError, match="duplicate id"):
        load_evalset(p)
    p.write_text(json.dumps({"id": "q1", "question": "?"}) + "\n")
    with pytest.raises(InputError, match="line 1: answer"):
        load_evalset(p)


def test_stratified_sample_is_seeded_and_spread():
    qs = [Q(id=f"{k}{i}", kind=k) for k, n in (("lookup", 20), ("table", 6), ("unanswerable", 4)) for i in range(n)]
    a, b = stratified_sample(qs, 10), stratified_sample(qs, 10)
    assert [q.id for q in a] == [q.id for q in b] and len(a) == 10
    kinds = [q.kind for q in a]
    assert kinds.count("lookup") >= 5 and kinds.count("table") >= 1 and kinds.count("unanswerable") >= 1


def test_strict_accuracy_refuses_an_answer_that_offers_a_competing_value():
    from ragkit.evaluation.metrics import competing_values, strict_accuracy

    depth = EvalQuestion(id="d", question="What is the mooring depth rating of the Osprey 4L?", answer="200 m", aliases=["8-200 m", "8–200 m"])
    assert accuracy("Mooring depth rating | 8–150 m | 8–200 m", depth) == 1.0  # the substring is there...
    assert strict_accuracy("Mooring depth rating | 8–150 m | 8–200 m", depth) == 0.0  # ...beside the other model's value
    assert strict_accuracy("200 m", depth) == 1.0 and strict_accuracy("It is rated to 8–200 m.", depth) == 1.0
    cutoff = EvalQuestion(id="c", question="Low-voltage cut-off?", answer="22.8 V")
    assert strict_accuracy("below 22.8 V (24 V systems)", cutoff) == 1.0  # a value given as context is not a rival
    assert strict_accuracy("22.8 V or 23.4 V", cutoff) == 0.0
    price = EvalQuestion(id="p", question="List price?", answer="9380", aliases=["EUR 9,380"])
    assert competing_values("KT-40-230 | KT-40 chiller, 230 V single-phase | 8950 | 9380 | 2024-06-01", price) == ["8950"]
    assert strict_accuracy("The list price is EUR 9,380 from 1 June 2024.", price) == 1.0  # a date is not a price
    when = EvalQuestion(id="w", question="From when?", answer="1 June 2024")
    assert strict_accuracy("from 1 June 2024", when) == 1.0 and strict_accuracy("1 June 2024 or 15 January 2024", when) == 0.0
    part = EvalQuestion(id="x", question="Which part?", answer="VT-S-2045")
    assert strict_accuracy("VT-S-2045 flow sensor", part) == 1.0 and strict_accuracy("VT-S-2045 or VT-S-2046", part) == 0.0
    name = EvalQuestion(id="n", question="Who?", answer="Marta Quintela", wrong=["Joao Silva"])
    assert strict_accuracy("Tickets escalate to Marta Quintela after 48 hours.", name) == 1.0
    assert strict_accuracy("Marta Quintela or Joao Silva", name) == 0.0  # a `wrong` value is wrong, as in accuracy


def test_a_day_written_another_way_is_the_same_answer():
    from ragkit.evaluation.metrics import strict_accuracy

    born = EvalQuestion(id="b", question="When was he born?", answer="December 19, 1854")
    for same in ("19 December 1854", "1854-12-19", "born on 19 Dec 1854"):
        assert accuracy(same, born) == 1.0 and strict_accuracy(same, born) == 1.0, same
    assert accuracy("20 December 1854", born) == 0.0 and accuracy("December 1854", born) == 0.0  # another day, or no day
    assert strict_accuracy("19 December 1854 or 3 May 1900", born) == 0.0  # another day beside it still competes
