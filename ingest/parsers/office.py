"""Office Open XML: .docx and .pptx through unstructured, .xlsx through openpyxl."""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings
import zipfile
from typing import Any

from ingest.document import Block, ParsedDocument, render_table
from ingest.parsers.base import ParseContext, ParseFailure, SkipFile
from ingest.parsers.elements import blocks_from_elements, partitioner
from ingest.parsers.normalize import compact, new_document, normalize_line

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.I)


def check_package(data: bytes, source: str, ctx: ParseContext) -> None:
    """Refuse what is not an OOXML zip package, or one that would unpack beyond the archive limit."""
    kind = source.rsplit(".", 1)[-1].lower()
    if data.startswith(_OLE_MAGIC):
        raise ParseFailure(
            "corrupt_file",
            f"{source}: an OLE compound file, not a .{kind} package: password-protected, or an old-format file renamed",
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ParseFailure("corrupt_file", f"{source}: not a valid .{kind} file ({e})") from e
    if unpacked > ctx.limits.archive_max_bytes:
        raise ParseFailure(
            "archive_limit",
            f"{source}: unpacks to {unpacked} bytes, more than the limit of {ctx.limits.archive_max_bytes}",
        )


def _partition(fn: Any, data: bytes, source: str, **kwargs: Any) -> list[Any]:
    try:
        return list(fn(file=io.BytesIO(data), **kwargs))
    except Exception as e:
        raise ParseFailure("corrupt_file", f"{source}: unreadable ({type(e).__name__}: {e})") from e


class DocxParser:
    """.docx: "Heading N" styles build the heading path under the "Title"-style paragraph; tables keep rows."""

    extensions = (".docx",)

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Partition with unstructured and map paragraph styles to heading levels."""
        check_package(data, source, ctx)
        elements = _partition(partitioner("docx"), data, source)
        titles: dict[int, str] = {}

        def heading_level(el: Any) -> int | None:
            # by style, not by unstructured's category: it also calls short body text "Title"
            style = getattr(el.metadata, "style_name", None) or ""
            m = _HEADING_STYLE.search(style)
            level = 0 if style == "Title" else int(m.group(1)) if m else None
            if level is not None and level <= 1:
                titles.setdefault(level, el.text)
            return level

        blocks = blocks_from_elements(elements, heading_level)
        if not blocks:
            raise SkipFile("empty", f"{source}: no text")
        return [new_document(data, source, blocks, title=titles.get(0) or titles.get(1))]


class PptxParser:
    """.pptx: one section per slide (Block.page = slide number) headed by the slide title; notes included."""

    extensions = (".pptx",)

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Partition with unstructured; slide titles and notes come from python-pptx itself."""
        check_package(data, source, ctx)
        elements = _partition(partitioner("pptx"), data, source)
        slides = _slide_titles_and_notes(data, source)
        by_slide: dict[int, list[Any]] = {}
        for el in elements:
            by_slide.setdefault(getattr(el.metadata, "page_number", None) or 1, []).append(el)

        blocks: list[Block] = []
        for number in sorted(set(by_slide) | set(slides)):
            title, notes = slides.get(number, ("", ""))
            # unstructured also calls short body text "Title"; only the title shape's text is one
            title_keys = {compact(line) for line in title.splitlines() if line.strip()}
            heading = (normalize_line(title),) if title.strip() else ()
            if heading:
                blocks.append(Block(heading[0], "title", heading, number))
            body = [
                el
                for el in by_slide.get(number, [])
                if not (el.category == "Title" and compact(el.text or "") in title_keys)
            ]
            blocks.extend(blocks_from_elements(body, lambda el: None, base=heading, page_of=lambda el, n=number: n))
            if notes.strip():
                blocks.append(Block(notes, "text", heading, number))
        if not blocks:
            raise SkipFile("empty", f"{source}: no text")
        first_title = next((b.text for b in blocks if b.kind == "title"), None)
        return [new_document(data, source, blocks, title=first_title, metadata={"slides": str(len(slides))})]


def _slide_titles_and_notes(data: bytes, source: str) -> dict[int, tuple[str, str]]:
    """{slide number: (title text, notes text)} read with python-pptx."""
    from pptx import Presentation

    try:
        prs = Presentation(io.BytesIO(data))
    except Exception as e:
        raise ParseFailure("corrupt_file", f"{source}: unreadable ({type(e).__name__}: {e})") from e
    out: dict[int, tuple[str, str]] = {}
    for number, slide in enumerate(prs.slides, 1):
        shape = slide.shapes.title
        title = shape.text_frame.text if shape is not None and shape.has_text_frame else ""
        notes = ""
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text
        out[number] = (title.replace("\x0b", "\n"), notes)
    return out


class XlsxParser:
    """.xlsx: one section per non-empty sheet, headed by its name; its rows form one table, header first."""

    extensions = (".xlsx",)

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Read cached cell values with openpyxl (read-only), skipping empty rows and columns."""
        check_package(data, source, ctx)
        import openpyxl

        try:
            with warnings.catch_warnings():  # openpyxl warns about unsupported extensions it ignores
                warnings.simplefilter("ignore")
                wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as e:
            raise ParseFailure("corrupt_file", f"{source}: unreadable ({type(e).__name__}: {e})") from e
        blocks: list[Block] = []
        try:
            title = wb.properties.title if wb.properties is not None else None
            for ws in wb.worksheets:
                rows = _sheet_rows(ws, source)
                if rows:
                    name = ws.title
                    blocks.append(Block(name, "title", (name,)))
                    blocks.append(Block(render_table(rows), "table", (name,), rows=rows))
        finally:
            wb.close()
        if not blocks:
            raise SkipFile("empty", f"{source}: every sheet is empty")
        sheets = ",".join(b.text for b in blocks if b.kind == "title")
        return [new_document(data, source, blocks, title=title or None, metadata={"sheets": sheets})]


def _sheet_rows(ws: Any, source: str) -> tuple[tuple[str, ...], ...]:
    rows: list[tuple[str, ...]] = []
    try:
        for values in ws.iter_rows(values_only=True):
            cells = tuple(_cell_text(v) for v in values)
            if any(c.strip() for c in cells):
                rows.append(cells)
    except Exception as e:
        raise ParseFailure("corrupt_file", f"{source}: sheet {ws.title!r} unreadable ({type(e).__name__}: {e})") from e
    if not rows:
        return ()
    width = max(max((i + 1 for i, c in enumerate(r) if c.strip()), default=0) for r in rows)
    return tuple(tuple(r[:width]) + ("",) * (width - len(r[:width])) for r in rows)


def _cell_text(value: Any) -> str:
    """A cell as its displayed-ish text: 3 not 3.0, dates in ISO form, TRUE/FALSE."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.15g}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)
