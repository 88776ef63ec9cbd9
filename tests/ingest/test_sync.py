"""Sync semantics on embedded Chroma with the fake embedder (the real MiniLM runs them in test_crash_and_lock and CI's slow tier): add, unchanged, changed, pruned, renamed, settings changed."""

from __future__ import annotations

import pytest

import json
import subprocess
import sys

import ragkit
from tests.conftest import ROOT, write_corpus


pytestmark = pytest.mark.usefixtures("fake_models")  # model-free: ragkit.testing's fakes through the plugin registry

def state(kb, collection="default") -> dict:
    """What the indexes hold, checked for agreement: source -> sorted chunk ids."""
    store = kb.store(collection)
    manifest_ids = kb.manifest.chunk_ids_of_collection(collection)
    assert store.vectors.ids() == manifest_ids, "vector index and manifest disagree"
    bm25 = store.bm25()
    assert set(bm25.chunk_ids) == manifest_ids, "BM25 index and manifest disagree"
    assert not kb.manifest.pending_intents(collection)
    out = {}
    for doc in kb.manifest.documents(collection):
        ids = kb.manifest.chunk_ids(doc.doc_id)
        assert len(ids) == doc.chunks
        out[doc.source] = sorted(ids)
    return out


def test_add_then_unchanged(kb, corpus):
    col = kb.collection("default")
    first = col.ingest(corpus)
    assert (first.files_seen, first.added, first.updated, first.unchanged) == (3, 3, 0, 0)
    assert first.chunks_added >= 3 and not first.failed and not first.skipped
    before = state(kb)
    assert first.chunks_added == sum(len(ids) for ids in before.values())
    again = col.ingest(corpus)
    assert (again.added, again.updated, again.unchanged, again.chunks_added) == (0, 0, 3, 0)
    assert again.revision == first.revision
    assert state(kb) == before


def test_changed_file_replaces_all_its_chunks(kb, corpus):
    col = kb.collection("default")
    col.ingest(corpus)
    old = state(kb)["osprey-4-manual.md"]
    (corpus / "osprey-4-manual.md").write_text("# Osprey 4\n\nThe Osprey 4 now draws 3.1 A at full load.\n", encoding="utf-8")
    report = col.ingest(corpus)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    new = state(kb)["osprey-4-manual.md"]
    assert not set(old) & set(new)
    assert report.chunks_deleted == len(old)
    texts = " ".join(h.text for h in col.query("Osprey 4 amps", k=10).hits)
    assert "3.1 A" in texts and "2.8 A" not in texts


def test_touch_without_change_is_unchanged(kb, corpus):
    col = kb.collection("default")
    col.ingest(corpus)
    path = corpus / "support.md"
    path.write_bytes(path.read_bytes())  # same bytes, new mtime
    report = col.ingest(corpus)
    assert report.unchanged == 3 and report.updated == 0


def test_prune_deletes_only_missing_documents_of_given_roots(kb, corpus, tmp_path):
    col = kb.collection("default")
    other = write_corpus(tmp_path / "other", {"notes.txt": "Kestrel's canteen serves soup on Thursdays."})
    col.ingest([corpus, other])
    (corpus / "support.md").unlink()
    kept = col.ingest(corpus)  # without --prune nothing is deleted
    assert kept.deleted == 0 and "support.md" in state(kb)
    pruned = col.ingest(corpus, prune=True)
    assert pruned.deleted == 1 and pruned.chunks_deleted >= 1
    sources = set(state(kb))
    assert "support.md" not in sources and "notes.txt" in sources  # other root untouched


def test_rename_is_delete_plus_add(kb, corpus):
    col = kb.collection("default")
    col.ingest(corpus)
    (corpus / "support.md").rename(corpus / "helpdesk.md")
    report = col.ingest(corpus, prune=True)
    assert (report.added, report.deleted, report.unchanged) == (1, 1, 2)
    assert set(state(kb)) == {"osprey-4-manual.md", "travel-policy.txt", "helpdesk.md"}


def test_settings_change_updates_every_document(home, corpus):
    with ragkit.open(home) as kb:
        kb.collection("default").ingest(corpus)
    with ragkit.open(home, chunk_tokens=64, chunk_overlap=8) as kb:
        report = kb.collection("default").ingest(corpus)
        assert (report.updated, report.unchanged) == (3, 0)
        state(kb)


def test_same_source_from_two_inputs_is_an_error(kb, tmp_path):
    a = write_corpus(tmp_path / "a", {"x.md": "# A\n\nalpha text"})
    report = kb.collection("default").ingest([a / "x.md", write_corpus(tmp_path / "b", {"x.md": "# B\n\nbeta"}) / "x.md"])
    assert report.added == 1
    assert [f.error for f in report.failed] == ["duplicate_source"]


def test_noop_run_loads_no_parser_and_no_model(home, corpus):
    with ragkit.open(home) as kb:
        kb.collection("default").ingest(corpus)
    code = (
        "import sys, json, ragkit\n"
        f"kb = ragkit.open({str(home)!r})\n"
        f"r = kb.collection('default').ingest({str(corpus)!r})\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'unstructured', 'chromadb', 'llama_index.core') if m in sys.modules]\n"
        "print(json.dumps({'unchanged': r.unchanged, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"unchanged": 3, "heavy": []}
