"""The identity and sync rules every writer shares (ragkit.fingerprints)."""

from __future__ import annotations

from dataclasses import replace

from ragkit.fingerprints import chunker_fingerprint, content_hash_for, doc_id_for, is_unchanged
from ragkit.storage.manifest import DocumentRow

ROW = DocumentRow(
    doc_id="d", collection="c", source="a.md", root="/r", container="a.md", container_hash="raw1", file_hash="raw1",
    content_hash="text1", settings_fp="fp1", bytes=1, mtime=None, doc_type="md", status="indexed", last_error=None,
    chunks=1, ingested_at="2026-01-01T00:00:00+00:00",
)  # fmt: skip


def test_ids_and_hashes_are_stable_and_depend_on_what_they_say():
    assert doc_id_for("c", "a.md") == doc_id_for("c", "a.md") != doc_id_for("c2", "a.md")
    assert len(doc_id_for("c", "ü/ß.md")) == 20
    assert content_hash_for("text", "fp1") != content_hash_for("text", "fp2") != content_hash_for("text2", "fp2")
    assert chunker_fingerprint(200, 24, 254) != chunker_fingerprint(200, 24, 510)


def test_unchanged_needs_indexed_same_settings_and_every_given_attribute():
    assert is_unchanged(ROW, "fp1", container_hash="raw1", root="/r")
    assert is_unchanged(ROW, "fp1", content_hash="text1", container="a.md")
    assert not is_unchanged(None, "fp1", container_hash="raw1")
    assert not is_unchanged(ROW, "fp2", container_hash="raw1")  # chunker or embedder changed
    assert not is_unchanged(ROW, "fp1", container_hash="raw2")  # the bytes changed
    assert not is_unchanged(ROW, "fp1", container_hash="raw1", root="/other")  # ingested from another folder
    assert not is_unchanged(ROW, "fp1", content_hash="text2")
    assert not is_unchanged(replace(ROW, status="failed"), "fp1", container_hash="raw1")
