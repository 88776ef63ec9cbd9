"""PDF with pdfplumber: text per page, ruled tables as table blocks, damaged pages reported, no OCR."""

from __future__ import annotations

import io
import logging
from typing import Any

from ingest.document import Block, ParsedDocument, render_table
from ingest.parsers.base import ParseContext, ParseFailure, SkipFile
from ingest.parsers.normalize import new_document, normalize_line, page_ranges, strip_cid, unreadable_fraction

logger = logging.getLogger(__name__)

_MAX_CID_SHARE = 0.3  # more "(cid:n)" than this and the page's font has no usable Unicode map
_MAX_UNREADABLE = 0.2  # more unusable characters than this and the text layer is garbage


class PdfParser:
    """.pdf: one text block per page region, tables kept with their rows; Block.page is 1-based."""

    extensions = (".pdf",)

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Extract every readable page; pages that fail are named in a warning."""
        import pdfplumber
        from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

        if b"%PDF-" not in data[:1024]:
            raise ParseFailure("corrupt_file", f"{source}: not a PDF (no %PDF- header)")
        try:
            pdf = pdfplumber.open(io.BytesIO(data))
        except Exception as e:
            cause = e.args[0] if e.args and isinstance(e.args[0], BaseException) else e
            if isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError)):
                raise ParseFailure("corrupt_file", f"{source}: encrypted PDF (a password is needed to read it)") from e
            raise ParseFailure("corrupt_file", f"{source}: damaged or truncated PDF ({_describe(cause)})") from e
        try:
            return [self._document(pdf, data, source)]
        finally:
            pdf.flush_cache()  # not pdf.close(): it would build every page again, broken ones included

    def _document(self, pdf: Any, data: bytes, source: str) -> ParsedDocument:
        from pdfminer.pdfpage import PDFPage
        from pdfplumber.page import Page

        blocks: list[Block] = []
        failed: list[int] = []
        first_error = ""
        imageonly: list[int] = []
        unreadable: list[int] = []
        count = 0
        rest_lost = False
        doctop = 0.0
        pages = PDFPage.create_pages(pdf.doc)
        # pdfplumber's `pdf.pages` builds every page up front and one bad page box fails them
        # all; building them one by one keeps the readable pages of a damaged file.
        while True:
            try:
                page_obj = next(pages)
            except StopIteration:
                break
            except Exception as e:  # the page tree itself is damaged: nothing after this is reachable
                rest_lost, first_error = True, first_error or _describe(e)
                break
            count += 1
            page = None
            try:
                page = Page(pdf, page_obj, page_number=count, initial_doctop=doctop)
                doctop += page.height
                page_blocks, garbled = _page_blocks(page)
                blocks.extend(page_blocks)
                if garbled:
                    unreadable.append(count)
                elif not page_blocks and page.images:
                    imageonly.append(count)
            except Exception as e:
                logger.debug("%s: page %d failed", source, count, exc_info=True)
                failed.append(count)
                first_error = first_error or _describe(e)
            finally:
                if page is not None:
                    page.close()

        warnings: list[str] = []
        if failed or rest_lost:
            lost = _pages(failed) if failed else ""
            if rest_lost:
                lost += (" and " if lost else "") + f"every page after page {count}"
            warnings.append(f"{lost} could not be read ({first_error}); the other pages were ingested")
        if not blocks:
            if failed or rest_lost:
                raise ParseFailure("corrupt_file", f"{source}: damaged PDF, no page could be read ({first_error})")
            if unreadable:
                raise SkipFile("no_text_layer", f"{source}: the text layer is unreadable (fonts without a Unicode map)")
            raise SkipFile("no_text_layer", f"{source}: no extractable text (a scanned or image-only PDF? OCR is not supported)")
        if unreadable:
            warnings.append(f"{_pages(unreadable)}: unreadable text (fonts without a Unicode map) left out")
        if imageonly:
            warnings.append(f"{_pages(imageonly)}: images but no text layer (OCR is not supported)")
        return new_document(
            data, source, blocks, title=_title(pdf), warnings=warnings, metadata={"pages": str(count)}
        )


def _page_blocks(page: Any) -> tuple[list[Block], bool]:
    """Blocks of one page in reading order (text, table, text...), and whether garbled text was left out."""
    tables = _tables(page) if len(page.edges) >= 4 else []  # only ruled tables; lines need edges
    boxes = [bbox for bbox, _ in tables]

    def outside_tables(obj: dict) -> bool:
        if obj.get("object_type") != "char":
            return True
        x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)

    body = page.filter(outside_tables) if boxes else page
    blocks: list[Block] = []
    garbage = False
    y = float("-inf")
    for bbox, rows in sorted(tables, key=lambda t: t[0][1]) + [(None, None)]:
        end = bbox[1] if bbox is not None else float("inf")
        region = body
        if tables:  # the text between the previous table and this one
            region = body.filter(_chars_between(y, end))
        text = _clean(region.extract_text())
        if text is None:
            garbage = True
        elif text:
            blocks.append(Block(text, "text", page=page.page_number))
        if bbox is not None:
            blocks.append(Block(render_table(rows), "table", page=page.page_number, rows=rows))
            y = max(y, bbox[3])
    return blocks, garbage


def _chars_between(top: float, bottom: float) -> Any:
    """A pdfplumber filter keeping the characters whose middle lies in [top, bottom)."""
    return lambda o: o.get("object_type") != "char" or top <= (o["top"] + o["bottom"]) / 2 < bottom


def _tables(page: Any) -> list[tuple[tuple[float, float, float, float], tuple[tuple[str, ...], ...]]]:
    """Ruled tables with at least two rows and two columns, as (bbox, rows)."""
    found = []
    for table in page.find_tables():
        rows = tuple(tuple(normalize_line(strip_cid(c or "")) for c in row) for row in table.extract())
        rows = tuple(r for r in rows if any(r))
        # a boxed paragraph or a single ruled line is a "table" to pdfplumber: leave it to the text
        if len(rows) >= 2 and max(len(r) for r in rows) >= 2:
            found.append((table.bbox, rows))
    return found


def _clean(text: str) -> str | None:
    """Page text without cid placeholders; None when it is mostly unusable characters."""
    if not text.strip():
        return ""
    stripped = strip_cid(text)
    if len(text) - len(stripped) > _MAX_CID_SHARE * len(text):
        return None
    if unreadable_fraction(stripped) > _MAX_UNREADABLE:
        return None
    return stripped


def _title(pdf: Any) -> str | None:
    """The document-information title, when it is a real string."""
    try:
        value = pdf.metadata.get("Title")
    except Exception:  # metadata is optional and often malformed
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = normalize_line(value)
    return value if value and unreadable_fraction(value) == 0 else None


def _pages(numbers: list[int]) -> str:
    """"page 2" or "pages 2-4, 7"."""
    return ("page " if len(numbers) == 1 else "pages ") + page_ranges(numbers)


def _describe(e: BaseException) -> str:
    message = str(e).strip() or type(e).__name__
    return message if len(message) <= 160 else message[:157] + "..."
