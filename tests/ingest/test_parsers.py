"""Parsers and their registry, on small real files built here (fpdf2, python-docx, python-pptx, openpyxl, email, zipfile)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

import ingest.parsers as parsers
from ingest.document import ParsedDocument
from ingest.parsers import ParseFailure, ParseLimits, ParseResult, SkipFile, parse_bytes, supported_extensions
from ingest.parsers.normalize import normalize_text, strip_cid, unreadable_fraction
from ingest.parsers.text import decode_text

ROOT = Path(__file__).resolve().parents[2]


def parse(data: bytes, source: str, limits: ParseLimits | None = None) -> ParseResult:
    return parse_bytes(data, source, limits or ParseLimits())


def only(result: ParseResult) -> ParsedDocument:
    assert len(result.documents) == 1, [d.source for d in result.documents]
    return result.documents[0]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- file builders


def make_pdf(pages: list[str], *, table: list[tuple[str, ...]] | None = None, title: str | None = None, compress: bool = True) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_compression(compress)
    if title:
        pdf.set_title(title)
    for i, text in enumerate(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 8, text)
        if table and i == 0:
            pdf.ln(4)
            with pdf.table() as t:
                for row in table:
                    r = t.row()
                    for cell in row:
                        r.cell(cell)
            pdf.multi_cell(0, 8, "Closing line after the table.")
    return bytes(pdf.output())


def make_docx() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("Field Guide", 0)  # the "Title" style
    d.add_heading("Installation", 1)
    d.add_paragraph("Mount the bracket with four screws before wiring anything.")
    d.add_paragraph("Short Capitalised Line")  # unstructured may call this a Title; it is body text
    d.add_heading("Wiring", 2)
    d.add_paragraph("Connect the brown wire to terminal L.")
    table = d.add_table(rows=3, cols=2)
    for r, row in enumerate([("Terminal", "Colour"), ("L", "brown"), ("N", "blue")]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    d.add_heading("Maintenance", 1)
    d.add_paragraph("Clean the filter every 90 days.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def make_pptx() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    s1 = prs.slides.add_slide(prs.slide_layouts[1])
    s1.shapes.title.text = "Quarterly Results"
    s1.placeholders[1].text = "Revenue grew 12 percent in the quarter."
    s1.notes_slide.notes_text_frame.text = "Mention the Lisbon office."
    s2 = prs.slides.add_slide(prs.slide_layouts[5])
    s2.shapes.title.text = "Regional Breakdown"
    grid = s2.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(4), Inches(1.5)).table
    for r, row in enumerate([("Region", "Sales"), ("North", "10"), ("South", "20")]):
        for c, text in enumerate(row):
            grid.cell(r, c).text = text
    box = s2.shapes.add_textbox(Inches(1), Inches(5), Inches(4), Inches(1))
    box.text_frame.text = "Loose Caption Box"
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


def make_xlsx() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Prices"
    ws.append(["Item", "Price", "In stock"])
    ws.append(["Widget", 2.5, True])
    ws.append([None, None, None])  # an empty row: skipped
    ws.append(["Gadget", 10.0, False])
    wb.create_sheet("Empty")
    staff = wb.create_sheet("Staff")
    staff.append(["Name", "Office"])
    staff.append(["Marta Quintela", "Lisbon"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def make_zip(members: dict[str, bytes], *, symlink: str | None = None, encrypted: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    data = bytearray(buf.getvalue())
    if encrypted:  # zipfile cannot encrypt: set the "encrypted" flag in every central directory record
        at = data.find(b"PK\x01\x02")
        while at != -1:
            data[at + 8] |= 0x1
            at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


# ---------------------------------------------------------------- registry


def test_importing_the_registry_loads_no_parser_library():
    code = textwrap.dedent(
        """
        import sys
        import ingest.parsers
        heavy = ("unstructured", "pdfplumber", "pdfminer", "markdown_it", "lxml", "openpyxl", "docx", "pptx")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_parsing_a_docx_imports_no_torch_and_leaves_it_importable(tmp_path):
    path = tmp_path / "guide.docx"
    path.write_bytes(make_docx())
    code = textwrap.dedent(
        f"""
        import sys
        from ingest.parsers import ParseLimits, parse_bytes
        result = parse_bytes(open({str(path)!r}, "rb").read(), "guide.docx", ParseLimits())
        loaded = "torch" in sys.modules
        import torch, thinc.compat
        print(len(result.documents), "spacy" in sys.modules, loaded, thinc.compat.has_torch, torch.ones(1).item())
        """
    )
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    # unstructured loaded spaCy; thinc saw no torch; torch still imports for whatever needs it later
    assert out.stdout.split() == ["1", "True", "False", "False", "1.0"]


def test_supported_extensions_lists_every_builtin_family():
    exts = supported_extensions()
    for ext in (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx", ".eml", ".csv", ".json", ".jsonl", ".zip"):
        assert ext in exts
    assert ".doc" not in exts


@pytest.mark.parametrize(
    ("source", "hint"),
    [("old.doc", ".docx"), ("sheet.xls", ".xlsx"), ("deck.ppt", ".pptx"), ("mail.msg", ".eml"), ("memo.rtf", ".docx")],
)
def test_legacy_formats_are_unsupported_with_a_hint(source, hint):
    with pytest.raises(SkipFile) as e:
        parse(b"\xd0\xcf\x11\xe0 legacy bytes", source)
    assert e.value.reason == "unsupported_type"
    assert source in str(e.value) and hint in str(e.value)


def test_unknown_and_extensionless_types_are_unsupported():
    for source in ("photo.xyz", "README"):
        with pytest.raises(SkipFile) as e:
            parse(b"data", source)
        assert e.value.reason == "unsupported_type"
        assert source in str(e.value)


def test_too_large_and_empty_inputs_are_skipped():
    with pytest.raises(SkipFile) as e:
        parse(b"x" * 101, "big.txt", ParseLimits(max_file_bytes=100))
    assert e.value.reason == "too_large" and "big.txt" in str(e.value)
    for data in (b"", b" \n\t\n"):
        with pytest.raises(SkipFile) as e:
            parse(data, "empty.txt")
        assert e.value.reason == "empty"


def test_entry_point_plugin_adds_a_format(tmp_path, monkeypatch):
    (tmp_path / "ragkit_rtf_plugin.py").write_text(
        textwrap.dedent(
            """
            import hashlib
            from ingest.document import Block, ParsedDocument

            class RtfParser:
                extensions = (".rtf",)

                def parse(self, data, source, ctx):
                    text = data.decode("ascii").strip("{}").split(" ", 1)[1]
                    return [ParsedDocument(source, "rtf", (Block(text),), file_hash=hashlib.sha256(data).hexdigest())]
            """
        )
    )
    dist = tmp_path / "ragkit_rtf_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ragkit-rtf-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ragkit.parsers]\nrtf = ragkit_rtf_plugin:RtfParser\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(parsers, "_registry", parsers.ParserRegistry())

    assert ".rtf" in supported_extensions()
    doc = only(parse(b"{\\rtf1 Hello   from a plugin}", "memo.rtf"))
    assert doc.text == "Hello from a plugin"  # the registry normalises plugin output too
    assert doc.doc_type == "rtf"


def test_register_parser_in_process(monkeypatch):
    class Shouty:
        extensions = (".shout",)

        def parse(self, data, source, ctx):
            from ingest.document import Block
            from ingest.parsers.normalize import new_document

            return [new_document(data, source, [Block(data.decode().upper())])]

    monkeypatch.setattr(parsers, "_registry", parsers.ParserRegistry())
    parsers.register_parser(Shouty)
    assert only(parse(b"quiet words", "a.shout")).text == "QUIET WORDS"


def test_an_unexpected_parser_error_becomes_corrupt_file_naming_the_input(monkeypatch):
    class Broken:
        extensions = (".brk",)

        def parse(self, data, source, ctx):
            raise KeyError("internal")

    monkeypatch.setattr(parsers, "_registry", parsers.ParserRegistry())
    parsers.register_parser(Broken)
    with pytest.raises(ParseFailure) as e:
        parse(b"x", "dir/file.brk")
    assert e.value.code == "corrupt_file" and "dir/file.brk" in str(e.value)


# ---------------------------------------------------------------- text


def test_txt_utf8_paragraphs_and_hash():
    data = "Première ligne.\nSuite du paragraphe.\n\n\nSecond   paragraph\twith  spaces.\n".encode()
    doc = only(parse(data, "notes/fr.txt"))
    assert [b.text for b in doc.blocks] == ["Première ligne.\nSuite du paragraphe.", "Second paragraph with spaces."]
    assert doc.doc_type == "txt" and doc.title is None
    assert doc.file_hash == sha(data)
    assert doc.source == "notes/fr.txt"


def test_txt_utf16_with_bom_and_cp1252():
    utf16 = "Grüße aus Köln.\n\nZweiter Absatz.".encode("utf-16")  # with BOM
    assert only(parse(utf16, "de.txt")).text == "Grüße aus Köln.\n\nZweiter Absatz."
    cp1252 = "Café crème – 5 €".encode("cp1252")
    assert only(parse(cp1252, "menu.txt")).text == "Café crème – 5 €"
    assert decode_text("utf-16 without a BOM".encode("utf-16-le"), "x.txt") == "utf-16 without a BOM"


def test_txt_strips_nuls_and_control_characters_and_composes_unicode():
    data = "Hello\x00 wor\x00ld\x07!\r\nCafe\u0301 \u00a0 ok\x0cnext".encode()
    doc = only(parse(data, "nul.txt"))
    assert doc.text == "Hello world!\nCafé ok\nnext"
    assert "\x00" not in doc.text and "\x07" not in doc.text


def test_mostly_utf8_text_with_a_stray_cp1252_byte_keeps_its_accents():
    data = "Résumé, déjà vu, naïve café. ".encode() + "Prix: 5 €.".encode("cp1252")
    assert only(parse(data, "mixed.txt")).text == "Résumé, déjà vu, naïve café. Prix: 5 €."


def test_binary_garbage_named_txt_is_corrupt():
    garbage = bytes(range(256)) * 8 + os.urandom(2048)
    for blob in (garbage, b"\xff\xfe" + os.urandom(2000)):  # the second pretends to be UTF-16
        with pytest.raises(ParseFailure) as e:
            parse(blob, "garbage.txt")
        assert e.value.code == "corrupt_file" and "garbage.txt" in str(e.value)


def test_normalize_text_rules():
    assert normalize_text("  a \t b  \n\n\n\n c\u200b\ufeff ") == "a b\n\nc"
    assert normalize_text("def f():\n    return  1", keep_indent=True) == "def f():\n    return 1"
    assert strip_cid("(cid:12)(cid:7)Total") == "Total"
    assert unreadable_fraction("\ue000\ue001ab") == 0.5


# ---------------------------------------------------------------- markdown


def test_markdown_headings_tables_lists_code():
    md = textwrap.dedent(
        """\
        ---
        title: Front matter title
        ---
        # Osprey 4 Manual

        Intro paragraph
        wrapped on two lines.

        ## Electrical

        Draws **2.8 A** at full load.

        | Part | Amps |
        |------|------|
        | motor | 2.5 |
        | light | 0.3 |

        - first item
          - nested item
        - second item

        ```python
        def f():
            return 1
        ```

        ### Battery

        18 V pack.

        ## Warranty

        36 months.
        """
    ).encode()
    doc = only(parse(md, "manual.md"))
    assert doc.title == "Osprey 4 Manual"
    by_text = {b.text: b for b in doc.blocks}
    assert by_text["Intro paragraph wrapped on two lines."].heading == ("Osprey 4 Manual",)
    assert by_text["Draws 2.8 A at full load."].heading == ("Osprey 4 Manual", "Electrical")
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == (("Part", "Amps"), ("motor", "2.5"), ("light", "0.3"))
    assert table.text == "Part | Amps\nmotor | 2.5\nlight | 0.3"
    assert table.heading == ("Osprey 4 Manual", "Electrical")
    lst = next(b for b in doc.blocks if b.kind == "list")
    assert lst.text == "- first item\n  - nested item\n- second item"
    code = next(b for b in doc.blocks if b.kind == "code")
    assert code.text == "def f():\n    return 1"
    assert by_text["18 V pack."].heading == ("Osprey 4 Manual", "Electrical", "Battery")
    assert by_text["36 months."].heading == ("Osprey 4 Manual", "Warranty")  # h2 closes the h3
    assert "title: Front matter" not in doc.text


def test_markdown_without_h1_has_no_title():
    doc = only(parse(b"## Only a subsection\n\nBody.", "sub.md"))
    assert doc.title is None
    assert doc.blocks[-1].heading == ("Only a subsection",)


# ---------------------------------------------------------------- html


HTML = b"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Support Page</title>
<style>body { color: red } .SECRET_STYLE {}</style>
<script>var token = "SECRET_SCRIPT";</script></head>
<body><h1>Kestrel Support</h1>
<p>Important Notice</p>
<p>The desk answers calls from 07:30 to 18:00, Monday to Friday.</p>
<h2>Escalation</h2>
<ul><li>Level one</li><li>Level two</li></ul>
<table><tr><th>Team</th><th>Hours</th></tr><tr><td>Desk</td><td>07:30-18:00</td></tr><tr><td>Field</td><td>09:00-17:00</td></tr></table>
<noscript>SECRET_NOSCRIPT enable javascript</noscript>
<script>alert("SECRET_SCRIPT2")</script>
<p>Tickets escalate after 48 hours.</p>
</body></html>"""


def test_html_headings_table_and_no_script():
    doc = only(parse(HTML, "support.html"))
    assert doc.title == "Support Page"
    assert "SECRET" not in doc.text and "color: red" not in doc.text
    titles = [b for b in doc.blocks if b.kind == "title"]
    assert [(b.text, b.heading) for b in titles] == [
        ("Kestrel Support", ("Kestrel Support",)),
        ("Escalation", ("Kestrel Support", "Escalation")),
    ]
    notice = next(b for b in doc.blocks if b.text == "Important Notice")
    assert notice.kind == "text" and notice.heading == ("Kestrel Support",)
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == (("Team", "Hours"), ("Desk", "07:30-18:00"), ("Field", "09:00-17:00"))
    assert table.heading == ("Kestrel Support", "Escalation")
    assert next(b for b in doc.blocks if b.kind == "list").text == "- Level one\n- Level two"
    assert doc.blocks[-1].text == "Tickets escalate after 48 hours."


def test_html_meta_charset_is_honoured():
    data = '<html><head><meta charset="windows-1252"></head><body><p>Crème brûlée recipe.</p></body></html>'.encode("cp1252")
    assert "Crème brûlée" in only(parse(data, "recipe.htm")).text


# ---------------------------------------------------------------- pdf


def test_pdf_pages_table_and_title():
    rows = [("Name", "Qty"), ("apple", "3"), ("pear", "5")]
    data = make_pdf(["First page text.\nSecond line.", "Page two text."], table=rows, title="Fruit Report")
    doc = only(parse(data, "fruit.pdf"))
    assert doc.title == "Fruit Report" and doc.doc_type == "pdf" and doc.file_hash == sha(data)
    assert doc.metadata["pages"] == "2"
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == tuple(rows) and table.page == 1
    texts = [(b.page, b.text) for b in doc.blocks if b.kind == "text"]
    assert texts == [(1, "First page text.\nSecond line."), (1, "Closing line after the table."), (2, "Page two text.")]
    assert "apple" not in " ".join(t for _, t in texts)  # table cells are not repeated in the page text
    assert not doc.warnings


def test_pdf_without_text_layer_is_skipped():
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 80, 40, style="F")
    with pytest.raises(SkipFile) as e:
        parse(bytes(pdf.output()), "scan.pdf")
    assert e.value.reason == "no_text_layer" and "scan.pdf" in str(e.value)


def test_truncated_and_fake_pdfs_are_corrupt():
    data = make_pdf(["Some text on a page.", "More text."])
    for blob, name in ((data[: len(data) // 2], "half.pdf"), (os.urandom(4000), "random.pdf"), (b"%PDF-1.4\n" + os.urandom(3000), "header-only.pdf")):
        with pytest.raises(ParseFailure) as e:
            parse(blob, name)
        assert e.value.code == "corrupt_file" and name in str(e.value)


def test_pdf_with_one_damaged_page_keeps_the_others():
    data = make_pdf(["Page one text.", "Page two text.", "Page three text."], compress=False)
    page2 = b"/Contents 6 0 R"
    assert data.count(page2) == 1
    doc = only(parse(data.replace(page2, page2 + b" /Rotate /Bogus"), "damaged.pdf"))
    assert [(b.page, b.text) for b in doc.blocks] == [(1, "Page one text."), (3, "Page three text.")]
    assert len(doc.warnings) == 1 and doc.warnings[0].startswith("page 2 could not be read")

    # a broken entry in the page tree hides every page after it: the ones before are kept
    doc = only(parse(data.replace(page2, page2 + b" /MediaBox [0 0 broken box]"), "tree.pdf"))
    assert [(b.page, b.text) for b in doc.blocks] == [(1, "Page one text.")]
    assert "every page after page 1 could not be read" in doc.warnings[0]


def test_encrypted_pdf_is_corrupt_with_a_reason():
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="user")
    pdf.add_page()
    pdf.set_font("Helvetica")
    pdf.cell(text="secret")
    with pytest.raises(ParseFailure) as e:
        parse(bytes(pdf.output()), "locked.pdf")
    assert e.value.code == "corrupt_file" and "password" in str(e.value)


# ---------------------------------------------------------------- office


def test_docx_heading_styles_and_table():
    data = make_docx()
    doc = only(parse(data, "guide.docx"))
    assert doc.title == "Field Guide" and doc.doc_type == "docx" and doc.file_hash == sha(data)
    by_text = {b.text: b for b in doc.blocks}
    assert by_text["Mount the bracket with four screws before wiring anything."].heading == ("Field Guide", "Installation")
    assert by_text["Short Capitalised Line"].kind == "text"
    assert by_text["Connect the brown wire to terminal L."].heading == ("Field Guide", "Installation", "Wiring")
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == (("Terminal", "Colour"), ("L", "brown"), ("N", "blue"))
    assert table.heading == ("Field Guide", "Installation", "Wiring")
    assert by_text["Clean the filter every 90 days."].heading == ("Field Guide", "Maintenance")


def test_pptx_slides_titles_tables_and_notes():
    doc = only(parse(make_pptx(), "deck.pptx"))
    assert doc.title == "Quarterly Results"
    summary = [(b.kind, b.page, b.heading, b.text) for b in doc.blocks]
    assert ("title", 1, ("Quarterly Results",), "Quarterly Results") in summary
    assert ("text", 1, ("Quarterly Results",), "Revenue grew 12 percent in the quarter.") in summary
    assert ("text", 1, ("Quarterly Results",), "Mention the Lisbon office.") in summary  # speaker notes
    assert ("title", 2, ("Regional Breakdown",), "Regional Breakdown") in summary
    assert ("text", 2, ("Regional Breakdown",), "Loose Caption Box") in summary  # not a heading
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.page == 2 and table.rows == (("Region", "Sales"), ("North", "10"), ("South", "20"))


def test_xlsx_sheets_become_sections_with_tables():
    doc = only(parse(make_xlsx(), "book.xlsx"))
    assert [(b.kind, b.text) for b in doc.blocks if b.kind == "title"] == [("title", "Prices"), ("title", "Staff")]
    prices = next(b for b in doc.blocks if b.kind == "table" and b.heading == ("Prices",))
    assert prices.rows == (("Item", "Price", "In stock"), ("Widget", "2.5", "TRUE"), ("Gadget", "10", "FALSE"))
    staff = next(b for b in doc.blocks if b.kind == "table" and b.heading == ("Staff",))
    assert staff.rows == (("Name", "Office"), ("Marta Quintela", "Lisbon"))


def test_office_files_that_are_not_packages_are_corrupt():
    for name in ("fake.docx", "fake.pptx", "fake.xlsx"):
        with pytest.raises(ParseFailure) as e:
            parse(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(500), name)
        assert e.value.code == "corrupt_file" and name in str(e.value)


# ---------------------------------------------------------------- e-mail


def make_email() -> bytes:
    m = EmailMessage()
    m["From"] = "Alice Example <alice@example.com>"
    m["To"] = "bob@example.com"
    m["Date"] = "Tue, 24 Nov 2026 10:00:00 +0000"
    m["Subject"] = "=?utf-8?q?Quarterly_n=C3=BAmeros?="
    m.set_content("Hi Bob,\n\nThe numbers are attached.\n\nAlice\n")
    m.add_alternative("<html><body><p>HTML twin of the body</p></body></html>", subtype="html")
    m.add_attachment(b"item,qty\napple,3\npear,5\n", maintype="text", subtype="csv", filename="numbers.csv")
    m.add_attachment(b"\x89PNG\r\n\x1a\n not really", maintype="image", subtype="png", filename="logo.png")
    m.add_attachment(b"%PDF-1.4 broken", maintype="application", subtype="pdf", filename="broken.pdf")
    m.add_attachment(b"first notes file", maintype="text", subtype="plain", filename="notes.txt")
    m.add_attachment(b"another file, same name", maintype="text", subtype="plain", filename="notes.txt")
    return bytes(m)


def test_eml_headers_body_and_attachments():
    data = make_email()
    result = parse(data, "inbox/q.eml")
    mail = result.documents[0]
    assert mail.source == "inbox/q.eml" and mail.doc_type == "eml" and mail.file_hash == sha(data)
    assert mail.title == "Quarterly números"
    header = mail.blocks[0].text
    for line in ("From: Alice Example <alice@example.com>", "To: bob@example.com", "Subject: Quarterly números", "Date: Tue, 24 Nov 2026"):
        assert line in header
    assert [b.text for b in mail.blocks[1:]] == ["Hi Bob,", "The numbers are attached.", "Alice"]
    assert "HTML twin" not in " ".join(d.text for d in result.documents)  # alternatives: one document

    docs = {d.source: d for d in result.documents[1:]}
    assert set(docs) == {"inbox/q.eml/numbers.csv", "inbox/q.eml/notes.txt", "inbox/q.eml/notes (2).txt"}
    assert docs["inbox/q.eml/notes (2).txt"].text == "another file, same name"  # same name, unique source
    assert docs["inbox/q.eml/numbers.csv"].blocks[0].rows == (("item", "qty"), ("apple", "3"), ("pear", "5"))
    assert docs["inbox/q.eml/numbers.csv"].file_hash == sha(b"item,qty\napple,3\npear,5\n")
    outcomes = {o.source: (o.status, o.code) for o in result.outcomes}
    assert outcomes == {
        "inbox/q.eml/logo.png": ("skipped", "unsupported_type"),
        "inbox/q.eml/broken.pdf": ("failed", "corrupt_file"),
    }


def test_eml_html_only_body_and_attached_message():
    inner = EmailMessage()
    inner["From"] = "carol@example.com"
    inner["Subject"] = "Original thread"
    inner.set_content("The original question.")
    m = EmailMessage()
    m["From"] = "dave@example.com"
    m["Subject"] = "Fwd"
    m.set_content("<html><body><h1>Hello</h1><p>Body in <b>HTML</b> only.</p><script>SECRET()</script></body></html>", subtype="html")
    m.add_attachment(inner)
    result = parse(bytes(m), "fwd.eml")
    mail, attached = result.documents
    assert "Hello" in mail.text and "Body in HTML only." in mail.text and "SECRET" not in mail.text
    assert attached.source == "fwd.eml/attachment-1.eml" and attached.title == "Original thread"
    assert "The original question." in attached.text


def test_eml_without_headers_is_corrupt():
    with pytest.raises(ParseFailure) as e:
        parse(b"just some words\nthat are not an e-mail\n", "note.eml")
    assert e.value.code == "corrupt_file" and "note.eml" in str(e.value)


# ---------------------------------------------------------------- tabular


def test_csv_sniffed_delimiter_cp1252_and_empty_rows():
    data = "Name;City;Amount\nJosé;Málaga;3\n;;\n\nZoë;Köln;4\n".encode("cp1252")
    doc = only(parse(data, "people.csv"))
    (block,) = doc.blocks
    assert block.kind == "table"
    assert block.rows == (("Name", "City", "Amount"), ("José", "Málaga", "3"), ("Zoë", "Köln", "4"))
    assert block.text.splitlines()[0] == "Name | City | Amount"


def test_csv_with_many_rows_and_tsv():
    data = ("id,value\n" + "".join(f"{i},v{i}\n" for i in range(5000))).encode()
    rows = only(parse(data, "big.csv")).blocks[0].rows
    assert len(rows) == 5001 and rows[0] == ("id", "value") and rows[-1] == ("4999", "v4999")
    assert only(parse(b"a\tb\n1\t2\n", "t.tsv")).blocks[0].rows == (("a", "b"), ("1", "2"))


def test_json_is_flattened_into_key_paths():
    value = {"product": {"name": "Osprey 4", "specs": {"amps": 2.8, "volts": 18}}, "tags": ["drill", "cordless"], "discontinued": False}
    doc = only(parse(json.dumps(value).encode(), "product.json"))
    lines = doc.text.splitlines()
    for line in ("product.name: Osprey 4", "product.specs.amps: 2.8", "tags[1]: cordless", "discontinued: false"):
        assert line in lines


def test_invalid_json_names_reason_and_position():
    with pytest.raises(ParseFailure) as e:
        parse(b'{"a": 1,\n "b": }', "bad.json")
    assert e.value.code == "corrupt_file"
    assert "bad.json" in str(e.value) and "line 2" in str(e.value) and "column" in str(e.value)


def test_jsonl_bad_line_becomes_a_warning():
    data = b'{"id": 1, "text": "first"}\n{"id": 2, "text": oops}\n\n{"id": 3, "text": "third"}\n'
    doc = only(parse(data, "records.jsonl"))
    assert [b.text for b in doc.blocks] == ["id: 1\ntext: first", "id: 3\ntext: third"]
    assert len(doc.warnings) == 1 and doc.warnings[0].startswith("line 2:")
    with pytest.raises(ParseFailure):
        parse(b"not json\nnor this\n", "all-bad.jsonl")


# ---------------------------------------------------------------- zip


def test_zip_members_nested_folders_unsafe_paths_and_limits():
    inner = make_zip({"deep/readme.md": b"# Inner\n\nNested archive text."})
    data = make_zip(
        {
            "docs/guide.txt": b"Guide text.",
            "docs/informe año.txt": "Informe del año.".encode(),
            "docs/": b"",
            "../evil.txt": b"escape attempt",
            "/etc/abs.txt": b"absolute path",
            "big/zeros.txt": b"0" * 50_000,  # compresses to almost nothing
            "inner.zip": inner,
            "picture.png": b"\x89PNG",
        },
        symlink="docs/link.txt",
    )
    result = parse(data, "bundle.zip", ParseLimits(max_file_bytes=40_000))
    docs = {d.source: d for d in result.documents}
    assert set(docs) == {"bundle.zip/docs/guide.txt", "bundle.zip/docs/informe año.txt", "bundle.zip/inner.zip/deep/readme.md"}
    assert docs["bundle.zip/docs/guide.txt"].file_hash == sha(b"Guide text.")
    assert docs["bundle.zip/inner.zip/deep/readme.md"].blocks[-1].heading == ("Inner",)
    outcomes = {o.source: (o.status, o.code) for o in result.outcomes}
    assert outcomes == {
        "bundle.zip/../evil.txt": ("failed", "unsafe_path"),
        "bundle.zip//etc/abs.txt": ("failed", "unsafe_path"),
        "bundle.zip/big/zeros.txt": ("skipped", "too_large"),
        "bundle.zip/picture.png": ("skipped", "unsupported_type"),
        "bundle.zip/docs/link.txt": ("skipped", "symlink"),
    }


def test_zip_member_names_from_tools_that_do_not_flag_utf8():
    data = bytearray(make_zip({"año/niño.txt": b"Texto."}))
    # clear the UTF-8 flag (bit 11) in the local and the central header, as old zip tools write them
    data[data.find(b"PK\x03\x04") + 7] &= ~0x08 & 0xFF
    data[data.find(b"PK\x01\x02") + 9] &= ~0x08 & 0xFF
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).namelist() != ["año/niño.txt"]
    assert only(parse(bytes(data), "old.zip")).source == "old.zip/año/niño.txt"


def test_zip_bomb_is_refused_before_inflating():
    data = make_zip({"a.txt": b"a" * 300_000, "b.txt": b"b" * 300_000})
    assert len(data) < 5_000
    with pytest.raises(ParseFailure) as e:
        parse(data, "bomb.zip", ParseLimits(archive_max_bytes=500_000))
    assert e.value.code == "archive_limit" and "bomb.zip" in str(e.value)


def test_zip_nesting_depth_and_member_count_limits():
    level3 = make_zip({"c.txt": b"deepest"})
    level2 = make_zip({"level3.zip": level3, "b.txt": b"middle"})
    top = make_zip({"level2.zip": level2, "a.txt": b"top"})
    result = parse(top, "top.zip", ParseLimits(archive_max_depth=2))
    assert {d.source for d in result.documents} == {"top.zip/a.txt", "top.zip/level2.zip/b.txt"}
    assert [(o.source, o.code) for o in result.outcomes] == [("top.zip/level2.zip/level3.zip", "archive_limit")]

    many = make_zip({f"f{i}.txt": b"x" for i in range(5)})
    with pytest.raises(ParseFailure) as e:
        parse(many, "many.zip", ParseLimits(archive_max_members=4))
    assert e.value.code == "archive_limit"


def test_corrupt_and_encrypted_zips_fail():
    for blob, name in ((os.urandom(2000), "random.zip"), (make_zip({"a.txt": b"x" * 1000})[:-40], "cut.zip")):
        with pytest.raises(ParseFailure) as e:
            parse(blob, name)
        assert e.value.code == "corrupt_file" and name in str(e.value)
    with pytest.raises(ParseFailure) as e:
        parse(make_zip({"secret.txt": b"hidden"}, encrypted=True), "locked.zip")
    assert e.value.code == "corrupt_file" and "encrypted" in str(e.value)
