"""`Collection.evaluate` on the fake models: the typed summary, the report's shape, resuming from the cache."""

from __future__ import annotations

import json

import pytest

import ragkit
from ragkit.types import EvalSummary
from tests.conftest import FAKE_MODELS, write_corpus
from tests.ragkit.test_eval_e2e import QUESTIONS, SPEC_KEYS


@pytest.fixture
def setup(tmp_path):
    evalset = tmp_path / "eval.jsonl"
    evalset.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    home = tmp_path / "home"
    with ragkit.open(home, **FAKE_MODELS) as kb:
        kb.collection("default").ingest(write_corpus(tmp_path / "corpus"))
    return tmp_path, home, evalset


def test_the_summary_is_typed_and_the_report_complete(setup):
    root, home, evalset = setup
    with ragkit.open(home, **FAKE_MODELS) as kb:
        result = kb.collection("default").evaluate(evalset, methods=["closed-book", "rag", "long-context", "self-route"], out=root / "r1")
        again = kb.collection("default").evaluate(evalset, methods=["rag"], out=root / "r2")
    assert isinstance(result, EvalSummary)
    assert set(result.methods) == {"closed-book", "rag", "long-context", "self-route"}
    for summary in result.methods.values():
        assert SPEC_KEYS <= set(summary)
    assert result.methods["closed-book"]["retrieval_hit_at_5"] is None and result.methods["rag"]["retrieval_hit_at_5"] == 1.0
    assert result.methods["rag"]["accuracy"] > result.methods["closed-book"]["accuracy"] == 0.0  # the fake quotes source sentences, knows nothing alone
    assert result.winner is not None and result.winner.method in result.methods and result["winner"]["method"] == result.winner.method
    as_json = result.to_dict()
    assert {"methods", "pairs", "winner", "report", "report_json", "warnings", "cached_answers", "seconds"} <= set(as_json)
    report = json.loads((root / "r1" / "report.json").read_text())
    assert report["generator"]["kind"] == "fake" and len(report["questions"]) == 4
    assert set(report["by_kind"]["rag"]) == {"lookup", "people", "unanswerable"}
    assert again.cached_answers == 4  # the same rag answers come from the cache


def test_self_route_reuses_the_runs_rag_and_long_context_answers(setup, monkeypatch):
    import ragkit.methods.self_route as self_route

    root, home, evalset = setup
    with ragkit.open(home, **FAKE_MODELS, abstain_min_dense=0.3) as kb:
        col = kb.collection("default")
        alone = {q["question"]: col.ask(q["question"], method="self-route") for q in QUESTIONS}

        class Recomputed:
            def __init__(self, rt):
                pass

            def answer(self, question):
                raise AssertionError("self-route recomputed a part the run already had")

        monkeypatch.setattr(self_route, "RagMethod", Recomputed)
        monkeypatch.setattr(self_route, "LongContextMethod", Recomputed)
        col.evaluate(evalset, methods=["rag", "long-context", "self-route"], out=root / "r3")
        compared = col.compare(QUESTIONS[0]["question"], methods=["rag", "long-context", "self-route"])
    report = json.loads((root / "r3" / "report.json").read_text())
    routes = set()
    for q in report["questions"]:
        got, ran = q["results"]["self-route"]["answer"], alone[q["question"]]
        assert (got["answer"], got["abstained"], got["details"]["route"], got["usage"]) == (ran.answer, ran.abstained, ran.details["route"], ran.usage.to_dict())
        parts = q["results"]["rag"]["answer"]["latency_ms"] + (q["results"]["long-context"]["answer"]["latency_ms"] if got["details"]["route"] == "long-context" else 0)
        assert got["latency_ms"] == pytest.approx(parts, abs=0.2)
        routes.add(got["details"]["route"])
    assert routes == {"rag", "long-context"}  # both ways composed
    assert compared.results[2].answer == alone[QUESTIONS[0]["question"]].answer
