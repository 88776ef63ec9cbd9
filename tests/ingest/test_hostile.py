"""Hostile and mixed input end to end: every file ends ingested, skipped or failed, and the run goes on."""

from __future__ import annotations

import json
import os
import time
import zipfile

import ragkit
from ingest.parsers import register_parser
from tests.conftest import ROOT
from tests.ingest.test_sync import state

EXAMPLES = ROOT / "examples" / "corpus"


class HangingParser:
    """A parser that never returns, registered the way plugins are."""

    extensions = (".hang",)

    def parse(self, data, source, ctx):
        time.sleep(3600)


def test_every_example_format_is_ingested(kb):
    report = kb.collection("examples").ingest(EXAMPLES)
    assert not report.failed and not report.skipped, (report.failed, report.skipped)
    sources = {d.source for d in kb.collection("examples").documents()}
    types = {d.doc_type for d in kb.collection("examples").documents()}
    assert {"md", "txt", "html", "pdf", "docx", "pptx", "xlsx", "eml", "csv", "json", "jsonl"} <= types
    assert "archive/legacy-docs.zip/legacy/ov10-quickstart.txt" in sources
    assert "mail/2024-05-20-kt40-price-update.eml/price-changes.csv" in sources
    assert report.added == len(sources) and report.files_seen == len(list(p for p in EXAMPLES.rglob("*") if p.is_file()))
    # every chunk fits the embedding window
    counter = kb.embedder.count_tokens
    assert max(counter(c.embed_text) for c in kb.manifest.all_chunks("examples")) <= kb.embedder.max_tokens
    # a table chunk repeats its header row
    tables = [c for c in kb.manifest.all_chunks("examples") if c.metadata.get("element_type") == "table"]
    assert tables


def test_hostile_folder(home, tmp_path):
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nThe Kestrel canteen opens at 11:45.\n", encoding="utf-8")
    (folder / "legacy.doc").write_bytes(b"\xd0\xcf\x11\xe0" + os.urandom(200))
    (folder / "noise.txt").write_bytes(os.urandom(4000))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "truncated.pdf").write_bytes((EXAMPLES / "reports" / "annual-report-2023.pdf").read_bytes()[:1500])
    (folder / "fake.pdf").write_bytes(os.urandom(3000))
    (folder / "big.txt").write_text("word " * 3000, encoding="utf-8")
    (folder / "stuck.hang").write_bytes(b"anything")
    (folder / "utf16.txt").write_bytes("Caf\u00e9 menu: soup of the day.".encode("utf-16"))
    with zipfile.ZipFile(folder / "bundle.zip", "w") as zf:
        zf.writestr("inner/ok.txt", "Inner document about the falcon project.")
        zf.writestr("../escape.txt", "should never be written anywhere")
        zf.writestr("inner/old.rtf", "{\\rtf1 hi}")
    sub = folder / "sub"
    sub.mkdir()
    (sub / "note.txt").write_text("A note in a subfolder about invoices.", encoding="utf-8")
    os.symlink(folder, sub / "loop")  # a link back up: must not loop
    os.symlink(folder / "good.md", folder / "good-link.md")  # the same file twice: visited once
    (folder / ".hidden.txt").write_text("secret", encoding="utf-8")

    register_parser(HangingParser())
    with ragkit.open(home, max_file_bytes=10_000, parse_timeout_s=3) as kb:
        report = kb.collection("default").ingest(folder)
        skipped = {s.source: s.reason for s in report.skipped}
        failed = {f.source: f.error for f in report.failed}
        sources = {d.source for d in kb.collection("default").documents()}
        state(kb)
    assert sources == {"good.md", "utf16.txt", "bundle.zip/inner/ok.txt", "sub/note.txt"}
    assert skipped["legacy.doc"] == "unsupported_type"
    assert skipped["big.txt"] == "too_large"
    assert skipped["empty.txt"] == "empty"
    assert skipped["bundle.zip/inner/old.rtf"] == "unsupported_type"
    assert failed["noise.txt"] == "corrupt_file"
    assert failed["fake.pdf"] == "corrupt_file"
    assert failed["stuck.hang"] == "parse_timeout"
    assert failed["bundle.zip/../escape.txt"] == "unsafe_path"
    assert "truncated.pdf" in failed or "truncated.pdf" in sources or any(w.source == "truncated.pdf" for w in report.warnings)
    assert ".hidden.txt" not in skipped and ".hidden.txt" not in failed
    assert all(f.message and f.source.split("/")[0] in f.message for f in report.failed)
    # 11 files: the link to good.md, the loop and the hidden file are not seen; zip members are documents
    assert report.files_seen == 11


def test_failed_update_keeps_the_stored_version(kb, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    path = folder / "data.json"
    path.write_text(json.dumps({"gearbox": {"ratio": "3.7:1"}}), encoding="utf-8")
    col = kb.collection("default")
    col.ingest(folder)
    path.write_text('{"gearbox": {"ratio": ', encoding="utf-8")  # now corrupt
    report = col.ingest(folder, prune=True)
    assert [f.error for f in report.failed] == ["corrupt_file"] and "line" in report.failed[0].message
    assert report.deleted == 0
    assert "3.7:1" in col.query("gearbox ratio", k=1).hits[0].text
    assert kb.manifest.document("default", source="data.json").last_error
