"""Hostile files the parsers and discovery must not misreport: HTML nested past libxml2's depth limit, and the one naming rule."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

import ragkit
from ingest.discovery import FoundFile, discover, is_hidden, name_problem, upload_source
from ingest.parsers.base import ParseContext, ParseLimits, SkipFile
from ingest.parsers.html import HtmlParser, html_to_text
from ragkit.errors import InputError

DEEP = 5000


def deep_html(depth: int = DEEP, inner: str = "<p>The vault code is 4471.</p>") -> str:
    return (
        "<html><head><title>Deep page</title><style>p {color: red}</style></head><body>"
        "<h1>Vault</h1><p>Read this first.</p>" + "<div>" * depth + inner + "</div>" * depth + "<h2>After</h2><p>The door opens inward.</p>"
        "<script>var secret = 1;</script></body></html>"
    )


def test_html_nested_5000_deep_keeps_all_its_text_with_a_warning():
    [doc] = HtmlParser().parse(deep_html().encode(), "deep.html", ParseContext(ParseLimits()))
    texts = [b.text for b in doc.blocks]
    # the text inside the nesting and the text after it: libxml2 alone keeps neither
    assert texts == ["Vault", "Read this first.", "The vault code is 4471.", "After", "The door opens inward."]
    assert doc.blocks[-1].heading == ("Vault", "After") and doc.title == "Deep page"
    assert "secret" not in doc.text and "color" not in doc.text
    assert doc.warnings and "nest more than" in doc.warnings[0]


def test_html_as_deep_without_text_is_truly_empty():
    with pytest.raises(SkipFile) as e:
        HtmlParser().parse(("<div>" * DEEP + "</div>" * DEEP).encode(), "hollow.html", ParseContext(ParseLimits()))
    assert e.value.reason == "empty"


def test_shallow_html_is_still_parsed_by_unstructured_without_a_warning():
    [doc] = HtmlParser().parse(deep_html(depth=20).encode(), "shallow.html", ParseContext(ParseLimits()))
    assert "The vault code is 4471." in doc.text and "The door opens inward." in doc.text and not doc.warnings


def test_html_to_text_of_a_deep_mail_body_keeps_its_text():
    text = html_to_text(deep_html())
    assert "The vault code is 4471." in text and "The door opens inward." in text and "secret" not in text


def test_deep_html_is_ingested_not_skipped_as_empty(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "deep.html").write_text(deep_html(), encoding="utf-8")
    (folder / "only-deep.htm").write_text("<div>" * DEEP + "Only the deep part has text." + "</div>" * DEEP, encoding="utf-8")
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "Deep mail", "a@example.com", "b@example.com"
    msg.set_content(deep_html(), subtype="html")
    (folder / "deep.eml").write_bytes(msg.as_bytes())
    with ragkit.open(tmp_path / "home") as kb:
        col = kb.collection("default")
        report = col.ingest(folder)
        assert not report.skipped and not report.failed, (report.skipped, report.failed)
        assert report.added == 3 and {w.source for w in report.warnings} >= {"deep.html", "only-deep.htm"}
        assert col.query("vault code", k=1, mode="bm25").hits[0].source in ("deep.html", "deep.eml")
        assert col.query("only the deep part", k=1, mode="bm25").hits[0].source == "only-deep.htm"


# -- one naming rule for folders and uploads ----------------------------------------------------


def test_folder_discovery_and_uploads_leave_out_the_same_hidden_names(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("secret")
    (tmp_path / ".env").write_text("secret")
    (tmp_path / "notes.txt").write_text("kept")
    found = [f.source for f in discover([tmp_path]) if isinstance(f, FoundFile)]
    assert found == ["notes.txt"]
    assert [upload_source(n) for n in (".git/config", ".env", "notes.txt", "../../notes.txt", "dir\\notes.txt")] == [None, None, "notes.txt", "notes.txt", "notes.txt"]
    assert is_hidden(".env") and not is_hidden("..") and not is_hidden("a.env")


@pytest.mark.parametrize("name", ["a\x00b.txt", "line\nbreak.txt", "cr\r.txt", "x\u202etxt.exe", "caf\udce9.txt", "sep\u2028.txt", "del\x7f.txt"])
def test_unprintable_names_are_refused_by_name(name):
    assert name_problem(name)
    with pytest.raises(InputError) as e:
        upload_source(name)
    assert repr(name) in e.value.message and e.value.code == "invalid_file_name"


def test_folder_files_with_unprintable_names_fail_with_the_naming_rule_reason(tmp_path):
    import json
    import os

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("The vault code is 4471.")
    (folder / "line\nbreak.txt").write_text("A newline in the name.")
    os.mkdir(os.path.join(os.fsencode(folder), b"caf\xe9"))  # a folder whose name is not UTF-8
    with open(os.path.join(os.fsencode(folder), b"caf\xe9", b"menu.txt"), "w") as fh:
        fh.write("Latin-1 bytes in the folder name.")
    with ragkit.open(tmp_path / "home", generator="fake", embed_runtime="fake") as kb:
        report = kb.collection("default").ingest(folder)
    assert report.added == 1 and report.files_seen == 3
    failed = {f.source: f for f in report.failed}
    assert set(failed) == {"line\nbreak.txt", "caf\\xe9/menu.txt"}
    assert all(f.error == "invalid_file_name" and "unprintable" in f.message for f in failed.values())
    assert "not UTF-8" in failed["caf\\xe9/menu.txt"].message
    json.dumps(report.to_dict())  # the report stays valid JSON (no lone surrogates)


@pytest.mark.parametrize("name", ["café menu.txt", "naïve\u00a0report.pdf", "数据.csv", "emoji 😀.md", "résumé (final).docx"])
def test_printable_unicode_names_are_kept_exactly(name):
    assert name_problem(name) is None and upload_source(name) == name
