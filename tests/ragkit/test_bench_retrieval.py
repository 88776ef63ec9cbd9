"""`ragkit bench retrieval` on a tiny BEIR-format set (real MiniLM, embedded Chroma), and the trec_eval metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragkit.evaluation.ir_metrics import evaluate, mrr_at, ndcg_at, recall_at

# -- metrics ---------------------------------------------------------------------------------


def test_metrics_by_hand():
    # one relevant of two found at rank 2
    ranked, judged = ["a", "b", "c"], {"b": 1, "d": 1}
    assert ndcg_at(ranked, judged, 10) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert recall_at(ranked, judged, 100) == 0.5
    assert mrr_at(ranked, judged, 10) == 0.5
    # graded: the gain is the grade (trec_eval), the ideal order is 3, 2, 1
    graded = {"x": 2, "y": 1, "z": 3}
    assert ndcg_at(["x", "y"], graded, 10) == pytest.approx((2 + 1 / math.log2(3)) / (3 + 2 / math.log2(3) + 1 / 2))
    # cut-offs: rank 11 is outside @10, rank 101 outside @100; grade 0 is not relevant
    deep = [f"n{i}" for i in range(100)] + ["hit"]
    assert mrr_at(deep[:10] + ["hit"], {"hit": 1}, 10) == 0.0
    assert ndcg_at(deep[:10] + ["hit"], {"hit": 1}, 10) == 0.0
    assert recall_at(deep, {"hit": 1}, 100) == 0.0
    assert recall_at(deep, {"hit": 1}, 101) == 1.0
    assert mrr_at(["x"], {"x": 0}, 10) == 0.0
    # the mean runs over every judged query; one the run does not answer scores 0
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    scores = evaluate({"q1": ["a"]}, qrels)
    assert scores == {"ndcg@10": 0.5, "recall@100": 0.5, "mrr@10": 0.5}


def test_metrics_agree_with_ranx():
    ranx = pytest.importorskip("ranx")
    import random

    rng = random.Random(7)
    docs = [f"d{i}" for i in range(300)]
    qrels, run, ranked = {}, {}, {}
    for q in range(40):
        qid = f"q{q}"
        qrels[qid] = {d: rng.choice([1, 1, 2]) for d in rng.sample(docs, rng.randint(1, 5))}
        order = rng.sample(docs, 150)
        # plant some relevant documents near the top so the figures are not all zero
        for d in list(qrels[qid])[:2]:
            if d in order:
                order.remove(d)
            order.insert(rng.randint(0, 30), d)
        ranked[qid] = order
        run[qid] = {d: float(len(order) - i) for i, d in enumerate(order)}  # distinct scores: no tie-breaking
    ours = evaluate(ranked, qrels)
    theirs = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), ["ndcg@10", "recall@100", "mrr@10"])
    for name in ("ndcg@10", "recall@100", "mrr@10"):
        assert ours[name] == pytest.approx(theirs[name], abs=1e-9), name
    assert 0 < ours["ndcg@10"] < 1


# -- the command -------------------------------------------------------------------------------

CORPUS = [
    ("101", "Osprey 4 drill", "The Osprey 4 cordless drill draws 2.8 A at full load from its 18 V battery."),
    ("102", "Travel policy", "Hotel costs are reimbursed up to 140 euros per night in Lisbon."),
    ("103", "Support hours", "The support desk answers calls from 07:30 to 18:00, Monday to Friday."),
    ("104", "Warranty", "Every Osprey 4 carries a warranty of 36 months from the date of purchase."),
    ("105", "Escalation", "Unresolved tickets escalate to Marta Quintela after 48 hours."),
    ("106", "", "Trains: employees travelling for more than four hours may book business class."),
]
QUERIES = {
    "1": "How many amps does the Osprey 4 draw?",
    "2": "What is the hotel limit per night in Lisbon?",
    "3": "When can I phone the support desk?",
    "4": "How long is the drill's warranty?",
    "5": "Who handles tickets that stay unresolved?",
    "6": "May staff book business class on long train journeys?",
}


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in CORPUS))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items()))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\t101\t1\n2\t102\t1\n3\t103\t1\n4\t104\t1\n")
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n5\t105\t1\n6\t106\t1\n")
    return folder


@pytest.fixture
def app():
    from ragkit.cli import build_app

    return build_app()


def test_bench_retrieval_json(app, tmp_path):
    beir = write_beir(tmp_path / "beir-tiny")
    home = tmp_path / "home"
    result = CliRunner().invoke(app, ["bench", "retrieval", "--beir", str(beir), "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"ndcg@10", "recall@100", "mrr@10", "p50_ms", "p95_ms", "settings", "zero_shot"} <= set(report)
    for key in ("ndcg@10", "recall@100", "mrr@10"):
        assert 0.0 <= report[key] <= 1.0
        assert report["zero_shot"][key] == report[key]  # --adapt none: the run is the zero-shot run
    assert report["recall@100"] == 1.0  # six documents: every one is ranked
    assert report["ndcg@10"] >= 0.75 and report["mrr@10"] >= 0.75  # each query names its document plainly
    assert 0 < report["p50_ms"] <= report["p95_ms"]
    s = report["settings"]
    assert (s["mode"], s["split"], s["queries"], s["documents"], s["adapt"]) == ("hybrid", "test", 4, 6, "none")
    assert s["ingest"]["added"] == 6

    # a kept home is reused: nothing is embedded again; the train split has its own queries
    again = CliRunner().invoke(app, ["bench", "retrieval", "--beir", str(beir), "--home", str(home), "--split", "train", "--mode", "bm25", "--json"])
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second["settings"]["ingest"]["unchanged"] == 6 and second["settings"]["ingest"]["chunks_added"] == 0
    assert second["settings"]["queries"] == 2 and second["mrr@10"] == 1.0


@pytest.mark.parametrize(
    "args, code",
    [
        (["--adapt", "train", "--split", "train"], "invalid_adapt"),
        (["--adapt", "bogus"], "invalid_adapt"),
        (["--mode", "sparse"], "invalid_mode"),
        (["--split", "validation"], "invalid_beir"),
    ],
)
def test_bench_retrieval_usage_errors(app, tmp_path, args, code):
    beir = write_beir(tmp_path / "beir-tiny")
    result = CliRunner().invoke(app, ["bench", "retrieval", "--beir", str(beir), "--json", *args])
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"]["code"] == code


# -- adaptation: tune the embedder, never on test data ---------------------------------------------


def test_bench_retrieval_adapt_unsupervised(app, tmp_path):
    beir = write_beir(tmp_path / "beir-tiny")
    result = CliRunner().invoke(app, ["bench", "retrieval", "--beir", str(beir), "--adapt", "unsupervised", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    s = report["settings"]
    assert s["adapt"] == "unsupervised" and s["embedder"].startswith("beir-tiny/bench-unsupervised@")
    assert s["tuning"]["source"] == "unsupervised" and s["tuning"]["switch"]["chunks"] == s["chunks"]
    assert set(report["zero_shot"]) == {"ndcg@10", "recall@100", "mrr@10"}
    assert report["recall@100"] == 1.0 and report["mrr@10"] >= 0.5


def test_adaptation_never_reads_test_data(tmp_path):
    """The adaptation view holds no test query or qrel, and adapting from a copy made without them gives the same model."""
    import shutil

    import numpy as np

    import ragkit
    from ragkit.cli.bench_retrieval import BeirSet, adapt_embedder, adaptation_view, ingest_beir

    beir = write_beir(tmp_path / "beir-tiny")
    view = adaptation_view(BeirSet(beir), "train", tmp_path / "view")
    files = sorted(str(p.relative_to(view)) for p in view.rglob("*") if p.is_file())
    assert files == ["corpus.jsonl", "qrels/train.tsv", "queries.jsonl"]
    train = [{"_id": q, "text": QUERIES[q]} for q in ("5", "6")]
    assert [json.loads(line) for line in (view / "queries.jsonl").read_text().splitlines()] == train
    unsupervised = adaptation_view(BeirSet(beir), "unsupervised", tmp_path / "view-u")
    assert [p.name for p in unsupervised.iterdir()] == ["corpus.jsonl"]

    # a hand-made copy without the test queries, test qrels or any query metadata
    bare = tmp_path / "bare"
    (bare / "qrels").mkdir(parents=True)
    shutil.copy(beir / "corpus.jsonl", bare / "corpus.jsonl")
    shutil.copy(beir / "qrels" / "train.tsv", bare / "qrels" / "train.tsv")
    (bare / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in train))

    vectors = []
    for folder in (view, bare):
        with ragkit.open(tmp_path / f"home-{folder.name}") as kb:
            ingest_beir(kb, BeirSet(beir), "beir-tiny")
            tuning = adapt_embedder(kb, "beir-tiny", folder, "train")
            assert tuning["source"] == "pairs"  # the train queries alone
            vectors.append(kb.embedder_for("beir-tiny").embed_query("How many amps does the Osprey 4 draw?"))
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)
