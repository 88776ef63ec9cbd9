"""Records (no file parser) through the sync pipeline: add, unchanged, changed, pruned, empty, duplicate."""

from __future__ import annotations

import pytest

from ingest.pipeline import Record, SyncPipeline
from tests.ingest.test_sync import state


pytestmark = pytest.mark.usefixtures("fake_models")  # model-free: ragkit.testing's fakes through the plugin registry

def test_records_sync_like_files(kb):
    def sync(records, **kw):
        return SyncPipeline(kb, "recs").sync_records(records, root="beir", **kw)

    records = [
        Record("a", "Cats purr when they are content.", title="Cats"),
        Record("b", "Dogs bark at strangers."),
        Record("c", "", title="A title alone"),
    ]
    first = sync(records)
    assert (first.added, first.updated, first.unchanged, first.failed, first.skipped) == (3, 0, 0, [], [])
    before = state(kb, "recs")
    chunk = kb.manifest.chunks_by_id(before["a"])[before["a"][0]]
    assert chunk.embed_text == "Cats\nCats purr when they are content." and chunk.text == "Cats purr when they are content."
    assert chunk.metadata["source"] == "a" and chunk.metadata["root"] == "beir"
    assert kb.collection("recs").query("title alone", k=1, mode="bm25").hits[0].source == "c"

    again = sync(records)
    assert (again.added, again.updated, again.unchanged, again.chunks_added) == (0, 0, 3, 0)
    assert state(kb, "recs") == before

    changed = sync([Record("a", "Cats sleep most of the day.", title="Cats"), records[1], Record("b", "twice"), Record("d", "   ")], prune=True)
    assert (changed.added, changed.updated, changed.unchanged, changed.deleted) == (0, 1, 1, 1)
    assert [f.error for f in changed.failed] == ["duplicate_source"] and [s.reason for s in changed.skipped] == ["empty"]
    after = state(kb, "recs")
    assert set(after) == {"a", "b"} and after["b"] == before["b"] and after["a"] != before["a"]
    assert kb.collection("recs").query("sleep", k=1, mode="bm25").hits[0].source == "a"
