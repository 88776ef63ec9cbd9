"""Text normalisation every parsed block goes through, and the helpers parsers share to build documents."""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from dataclasses import replace

from ingest.document import Block, ParsedDocument, render_table

# Line breaks in their many spellings (CR, form feed, vertical tab, NEL, U+2028/9) become "\n".
_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Control characters except \t and \n, lone surrogates (from "\ud800" in JSON; they break UTF-8
# encoding downstream), BOMs in mid-text and zero-width spaces.
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufeff\u200b]")
_HSPACE = re.compile(r"[^\S\n]+")  # any whitespace but the newline
_LEADING = re.compile(r"^[^\S\n]*")
_BLANK_RUNS = re.compile(r"\n{3,}")
_CID = re.compile(r"\(cid:\d+\)")
# In ASCII text, anything normalize_text would change: controls, tabs, space runs, spaces at
# line ends, runs of blank lines.
_ASCII_NEEDS_WORK = re.compile(r"[^\x20-\x7e\n]|  |^ | $|\n\n\n", re.M)


def normalize_text(text: str, *, keep_indent: bool = False) -> str:
    """NFC, no NULs or control characters but \\n and \\t, whitespace runs collapsed within lines.

    Lines are stripped and at most one blank line separates paragraphs. With `keep_indent`
    (code and nested lists) each line keeps its leading whitespace.
    """
    if text.isascii() and not _ASCII_NEEDS_WORK.search(text):
        return text.strip("\n")  # already clean: the common case for machine-made text
    text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    lines = []
    for line in text.split("\n"):
        body = _HSPACE.sub(" ", line).strip()
        indent = _LEADING.match(line).group(0) if keep_indent and body else ""
        lines.append(indent + body)
    text = _BLANK_RUNS.sub("\n\n", "\n".join(lines))
    return text.strip("\n") if keep_indent else text.strip()


def normalize_line(text: str) -> str:
    """`normalize_text` folded onto one line (titles, headings, table cells)."""
    # Fast path for the common clean cell: printable excludes controls, format characters,
    # surrogates and every space but " ", which is all the slow path would change.
    if text.isprintable() and "  " not in text and text.strip(" ") == text and unicodedata.is_normalized("NFC", text):
        return text
    return " ".join(normalize_text(text).split())


def unreadable_fraction(text: str) -> float:
    """Share of non-space characters that no reader can use: controls, private-use, unassigned, U+FFFD."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    bad = sum(1 for c in chars if c == "\ufffd" or unicodedata.category(c) in ("Cc", "Co", "Cn", "Cs"))
    return bad / len(chars)


def strip_cid(text: str) -> str:
    """Remove pdfminer's "(cid:123)" placeholders for glyphs that have no Unicode mapping."""
    return _CID.sub("", text)


def normalize_block(block: Block) -> Block | None:
    """A normalised copy of `block`, or None when nothing readable is left."""
    heading = tuple(h for h in (normalize_line(x) for x in block.heading) if h)
    if block.kind == "table" and block.rows is not None:
        rows = tuple(tuple(normalize_line(c or "") for c in row) for row in block.rows)
        rows = tuple(row for row in rows if any(row))
        if not rows:
            return None
        width = max(len(r) for r in rows)
        rows = tuple(r + ("",) * (width - len(r)) for r in rows)
        return replace(block, text=render_table(rows), rows=rows, heading=heading)
    text = normalize_text(block.text, keep_indent=block.kind in ("code", "list"))
    if block.kind == "title":
        text = normalize_line(text)
    if not text.strip():
        return None
    return replace(block, text=text, heading=heading)


def normalize_document(doc: ParsedDocument) -> ParsedDocument:
    """Normalise every block (dropping empty ones) and the title."""
    blocks = tuple(b for b in (normalize_block(b) for b in doc.blocks) if b is not None)
    title = normalize_line(doc.title) if doc.title else None
    return replace(doc, blocks=blocks, title=title or None)


def doc_type_of(source: str) -> str:
    """The document type of a source: its lowercased extension without the dot ("pdf")."""
    return extension_of(source).lstrip(".")


def extension_of(source: str) -> str:
    """The lowercased extension of the last path component of `source` (".pdf"), or ""."""
    return posixpath.splitext(source.rsplit("/", 1)[-1])[1].lower()


def new_document(
    data: bytes,
    source: str,
    blocks: list[Block] | tuple[Block, ...],
    *,
    title: str | None = None,
    warnings: list[str] | tuple[str, ...] = (),
    metadata: dict[str, str] | None = None,
) -> ParsedDocument:
    """A ParsedDocument with doc_type and file_hash derived from `source` and `data`."""
    return ParsedDocument(
        source=source,
        doc_type=doc_type_of(source),
        blocks=tuple(blocks),
        title=title,
        warnings=tuple(warnings),
        metadata=dict(metadata or {}),
        file_hash=hashlib.sha256(data).hexdigest(),
    )


class HeadingTrail:
    """The current path of section titles: entering a heading of level n drops those at n or deeper."""

    def __init__(self, base: tuple[str, ...] = ()):
        self._base = base
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, text: str) -> tuple[str, ...]:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return self._base + tuple(t for _, t in self._stack)


def compact(text: str) -> str:
    """`text` without any whitespace, for matching the same words rendered by two libraries."""
    return "".join(text.split())


def page_ranges(pages: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    runs: list[list[int]] = []
    for p in sorted(set(pages)):
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
