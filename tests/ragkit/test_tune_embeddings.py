"""`tune-embeddings` and `embedders`: pairs, training the real MiniLM, saving, reloading, switching, re-embedding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import ragkit
from ragkit.embedding.tuning import Pair, read_pairs_file, sentences, switch_embedder, tune_embeddings, unsupervised_pairs
from ragkit.errors import NotFound, UsageError
from ragkit.types import Chunk


def chunk(doc_id: str, text: str, prefix: str = "") -> Chunk:
    embed_text = f"{prefix}\n{text}" if prefix else text
    return Chunk(chunk_id=f"{doc_id}-0", doc_id=doc_id, ordinal=0, text=text, embed_text=embed_text, start=0, end=len(text), metadata={})


def test_sentences_keep_only_query_sized_ones():
    text = "Short one. The drill draws 2.8 A at full load.\nIt ships with two batteries and a charger! Ok?"
    assert sentences(text) == ["The drill draws 2.8 A at full load.", "It ships with two batteries and a charger!"]


def test_unsupervised_pairs_by_hand():
    chunks = [
        chunk("d1", "The drill draws 2.8 A at full load. Its warranty runs for thirty six months.", prefix="Osprey 4 manual"),
        chunk("d1", "A second chunk of the same manual, with one sentence only.", prefix="Osprey 4 manual"),
        chunk("d2", "Hotel costs are reimbursed up to 140 euros. Trains may be booked in business class."),
    ]
    pairs = unsupervised_pairs(chunks, seed=3, keep_sentence=0.0)
    titles = [p for p in pairs if p.query == "Osprey 4 manual"]
    assert titles == [Pair("Osprey 4 manual", chunks[0].text)]  # a title pairs with its body once per document
    cloze = [p for p in pairs if p.query != "Osprey 4 manual"]
    assert len(cloze) == 2  # the one-sentence chunk gives no inverse-cloze pair
    for p in cloze:
        assert p.query not in p.passage  # the query sentence is cut from its passage
        assert p.query in sentences(" ".join(c.text for c in chunks))
    assert unsupervised_pairs(chunks, seed=3, keep_sentence=0.0) == pairs  # seeded
    kept = unsupervised_pairs(chunks, seed=3, keep_sentence=1.0)
    assert all(p.query in p.passage for p in kept if p.query != "Osprey 4 manual")


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"query": "q", "positive": "p"}\nnot json\n', "line 2: not JSON"),
        ('{"positive": "p"}\n', 'line 1: needs a non-empty "query"'),
        ('{"query": "q"}\n', 'line 1: needs "positive"'),
        ("\n\n", "no pairs"),
    ],
)
def test_pairs_file_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / "pairs.jsonl"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        read_pairs_file(path)


def vectors_of(kb, collection: str) -> dict[str, np.ndarray]:
    got = kb.store(collection).vectors._col.get(include=["embeddings"])
    return {cid: np.asarray(v) for cid, v in zip(got["ids"], got["embeddings"])}


def test_tune_saves_switches_reloads_and_switches_back(corpus, home):
    with ragkit.open(home) as kb:
        col = kb.collection("tiny")
        col.ingest(corpus)
        before = vectors_of(kb, "tiny")
        result = tune_embeddings(kb, "tiny", name="t1", steps=3)
        assert (result.embedder, result.steps, result.source, result.collection) == ("t1", 3, "unsupervised", "tiny")
        assert result.pairs >= 3 and result.loss_first is not None and result.seconds > 0
        folder = Path(result.path)
        assert folder == home / "embedders" / "tiny" / "t1" and (folder / "ragkit.json").exists()
        assert result.switch["chunks"] == sum(d.chunks for d in kb.manifest.documents("tiny")) and result.switch["documents"] == 3
        after = vectors_of(kb, "tiny")
        assert after.keys() == before.keys()
        assert max(float(np.abs(after[k] - before[k]).max()) for k in before) > 1e-4  # the vectors changed
        info = kb.embedders.get("tiny", "t1")
        assert info.in_use and not info.stale and info.revision == kb.manifest.revision("tiny")
        assert col.ingest(corpus).unchanged == 3  # switching left nothing for ingest to redo
        with pytest.raises(UsageError, match="in use"):
            kb.embedders.delete("tiny", "t1")
        tuned_id = kb.embedder_for("tiny").embedder_id
        query = kb.embedder_for("tiny").embed_query("How many amps does the drill draw?")

    with ragkit.open(home) as kb:  # a new process loads the saved model from the home
        assert kb.embedder_for("tiny").embedder_id == tuned_id
        np.testing.assert_allclose(kb.embedder_for("tiny").embed_query("How many amps does the drill draw?"), query, atol=1e-5)
        hits = kb.collection("tiny").query("How many amps does the drill draw?", k=1, mode="dense").hits
        assert hits[0].source == "osprey-4-manual.md"

        back = switch_embedder(kb, "tiny", "base")
        assert (back.embedder, back.documents) == ("base", 3)
        restored = vectors_of(kb, "tiny")
        assert max(float(np.abs(restored[k] - before[k]).max()) for k in before) < 1e-4
        assert kb.collection("tiny").ingest(corpus).unchanged == 3
        kb.collection("tiny").delete_document(kb.manifest.documents("tiny")[0].doc_id)
        assert kb.embedders.get("tiny", "t1").stale  # trained on text that changed since
        assert kb.embedders.delete("tiny", "t1").name == "t1"
        with pytest.raises(NotFound, match="tune-embeddings"):
            kb.embedders.get("tiny", "t1")


def test_a_killed_switch_converges(corpus, home, monkeypatch):
    import ragkit.embedding.tuning as embedders

    with ragkit.open(home) as kb:
        kb.collection("tiny").ingest(corpus)
        tune_embeddings(kb, "tiny", name="t1", steps=1, use=False)
        assert kb.embedders.in_use("tiny") is None
        monkeypatch.setattr(embedders, "REEMBED_GROUP_CHUNKS", 1)  # one document per write
        index = kb.store("tiny").vectors
        real, calls = index.upsert, []

        def dies_on_second(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt("killed")
            return real(*args, **kwargs)

        monkeypatch.setattr(index, "upsert", dies_on_second)
        with pytest.raises(KeyboardInterrupt):
            switch_embedder(kb, "tiny", "t1")
        monkeypatch.setattr(index, "upsert", real)
        again = switch_embedder(kb, "tiny", "t1")
        assert again.documents == 2  # only what the killed run had not finished
        assert kb.collection("tiny").ingest(corpus).unchanged == 3
        tuned = kb.embedder_for("tiny")
        stored = vectors_of(kb, "tiny")
        for c in kb.manifest.all_chunks("tiny"):
            np.testing.assert_allclose(stored[c.chunk_id], tuned.embed_documents([c.embed_text])[0], atol=1e-4)


def test_labelled_pairs_from_a_file(corpus, home, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {"query": "drill current at full load", "source": "osprey-4-manual.md"},
        {"query": "who gets unresolved tickets", "positive": "Unresolved tickets escalate to Marta Quintela after 48 hours."},
    ]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with ragkit.open(home) as kb:
        kb.collection("tiny").ingest(corpus)
        result = tune_embeddings(kb, "tiny", name="labelled", pairs_file=pairs, use=False)
        assert (result.source, result.pairs, result.steps, result.switch) == ("pairs", 2, 3, None)  # three passes over one batch
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"query": "q", "source": "nowhere.md"}\n')
        with pytest.raises(UsageError, match="line 1: source 'nowhere.md' is not in collection"):
            tune_embeddings(kb, "tiny", name="bad", pairs_file=bad)


def test_cli_tune_embeddings_and_embedders(corpus, home):
    from ragkit.cli import build_app

    app = build_app()
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(corpus), "-c", "tiny", "--home", str(home), "--json"]).exit_code == 0
    out = runner.invoke(app, ["tune-embeddings", "-c", "tiny", "--name", "e1", "--steps", "2", "--home", str(home), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert {"embedder", "pairs", "steps", "seconds", "path"} <= set(result) and result["embedder"] == "e1"
    leftover = home / "embedders" / "tiny" / ".e1.partial"  # what a run killed before its rename leaves
    leftover.mkdir()
    (leftover / "ragkit.json").write_text((Path(result["path"]) / "ragkit.json").read_text())
    listing = json.loads(runner.invoke(app, ["embedders", "list", "-c", "tiny", "--home", str(home), "--json"]).stdout)
    assert listing["in_use"] == "e1" and [e["name"] for e in listing["embedders"]] == ["e1"]
    used = runner.invoke(app, ["embedders", "use", "base", "-c", "tiny", "--home", str(home), "--json"])
    assert used.exit_code == 0 and json.loads(used.stdout)["embedder"] == "base"
    missing = runner.invoke(app, ["embedders", "use", "nope", "-c", "tiny", "--home", str(home), "--json"])
    assert missing.exit_code == 1 and json.loads(missing.stdout)["error"]["code"] == "embedder_not_found"


def test_reports_name_a_tuned_embedder_and_its_staleness():
    from ragkit.evaluation.report import embedder_line

    assert embedder_line({"embedder": {"name": "base", "id": "all-MiniLM-L6-v2", "stale": False}}) == []
    assert embedder_line({}) == []  # reports written before embedders were recorded
    line = embedder_line({"embedder": {"name": "t1", "id": "tiny/t1@abc", "stale": True}})
    assert line == ["- embedder: tuned `t1` (tiny/t1@abc) — stale: trained before the collection last changed"]
