"""Retrieval modes and filters on a tiny real corpus (MiniLM, embedded Chroma, bm25s)."""

from __future__ import annotations

import pytest

from ragkit.errors import NotFound, UsageError
from ragkit.retrieval import minmax
from ragkit.storage.filters import parse_where


@pytest.fixture
def col(kb, corpus):
    c = kb.collection("default")
    c.ingest(corpus)
    return c


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_gold_source(col, mode):
    hits = col.query("How many amps does the Osprey 4 draw at full load?", k=3, mode=mode).hits
    assert hits[0].source == "osprey-4-manual.md"
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(hits[i].score >= hits[i + 1].score for i in range(len(hits) - 1))


def test_hit_carries_text_heading_and_offsets(col, kb):
    hit = col.query("warranty months", k=1).hits[0]
    assert "36 months" in hit.text
    assert hit.metadata["heading"].endswith("Warranty")
    assert hit.metadata["doc_type"] == "md"
    doc = kb.manifest.document("default", source=hit.source)
    assert hit.doc_id == doc.doc_id
    assert hit.metadata["end"] > hit.metadata["start"] >= 0


def test_dense_finds_paraphrase_bm25_cannot(col):
    # no shared content word with the support document besides stop words
    dense = col.query("when can I phone the helpdesk", k=1, mode="dense").hits
    assert dense[0].source == "support.md"


def test_where_filters(col):
    hits = col.query("policy", k=10, where={"doc_type": "txt"}).hits
    assert hits and {h.source for h in hits} == {"travel-policy.txt"}
    hits = col.query("Osprey", k=10, where='{"source": {"$glob": "*.md"}}', mode="bm25").hits
    assert hits and all(h.source.endswith(".md") for h in hits)
    assert col.query("Osprey", where={"source": {"$in": ["nothing.md"]}}).hits == []
    hits = col.query("escalation", k=10, where={"heading": {"$glob": "*Escalation"}}, mode="dense").hits
    assert [h.source for h in hits] == ["support.md"]


@pytest.mark.parametrize(
    "bad",
    ['{"source": ', '["a"]', '{"bad key": 1}', '{"source": {"$regex": "x"}}', '{"source": {"$in": "x"}}', '{"source": {"$glob": 3}}'],
)
def test_bad_filters_are_usage_errors(bad):
    with pytest.raises(UsageError):
        parse_where(bad)


def test_bad_mode_and_empty_query(col):
    with pytest.raises(UsageError):
        col.query("x", mode="sparse")
    with pytest.raises(UsageError):
        col.query("   ")


def test_unknown_collection(kb):
    with pytest.raises(NotFound):
        kb.collection("nope").query("anything")


def test_minmax():
    assert minmax({}) == {}
    assert minmax({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert minmax({"a": 5.0}) == {"a": 1.0}


def test_documents_and_delete(col, kb):
    docs = {d.source: d for d in col.documents()}
    assert set(docs) == {"osprey-4-manual.md", "travel-policy.txt", "support.md"}
    assert all(d.chunks >= 1 and d.bytes > 0 and d.content_hash for d in docs.values())
    col.delete_document("support.md")
    assert "support.md" not in {d.source for d in col.documents()}
    assert all(h.source != "support.md" for h in col.query("support desk hours escalation", k=10).hits)
    assert kb.store("default").vectors.ids() == kb.manifest.chunk_ids_of_collection("default")
    with pytest.raises(NotFound):
        col.delete_document("support.md")


def test_bm25_index_built_with_other_parameters_is_rebuilt(tmp_path):
    import json

    from ragkit.storage.bm25 import SCORING, BM25Index

    folder = tmp_path / "bm25"
    BM25Index.build(["a", "b"], ["cats purr when content", "dogs bark at strangers"], revision=3).save(folder)
    loaded = BM25Index.load(folder)
    assert loaded is not None and loaded.revision == 3 and [h.chunk_id for h in loaded.search("dogs", 5)] == ["b"]
    assert (loaded._retriever.k1, loaded._retriever.b) == (SCORING["k1"], SCORING["b"])
    meta = folder / "ragkit.json"
    info = json.loads(meta.read_text())
    meta.write_text(json.dumps({**info, "scoring": {"method": "lucene", "k1": 1.5, "b": 0.75}}))
    assert BM25Index.load(folder) is None  # the store then rebuilds it from the manifest
    meta.write_text(json.dumps({k: v for k, v in info.items() if k != "scoring"}))  # saved before parameters were recorded
    assert BM25Index.load(folder) is None
