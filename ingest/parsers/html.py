"""HTML (.html/.htm) through unstructured's partition_html, and a light `html_to_text` for e-mail and Markdown.

libxml2 (under lxml) silently drops everything nested deeper than 256 elements, and what follows
it; a document that reaches that depth is read again by `FlatHtmlText`, an event-driven pass with
no tree and no depth limit, so its text is never lost (nor reported as `empty`).
"""

from __future__ import annotations

import html.parser
import re
from typing import Any

from ingest.document import Block, ParsedDocument
from ingest.parsers.base import ParseContext, ParseFailure, SkipFile
from ingest.parsers.elements import blocks_from_elements, partitioner
from ingest.parsers.normalize import HeadingTrail, compact, new_document, normalize_line
from ingest.parsers.text import decode_text

_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
# Never text: code, styling, fallbacks for disabled scripts, inert templates.
_INVISIBLE_TAGS = ("script", "style", "noscript", "template")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tr ul".split()
)
# libxml2's nesting limit (without XML_PARSE_HUGE): a tree this deep was cut off there.
LXML_MAX_DEPTH = 256


def decode_html(data: bytes, source: str) -> str:
    """HTML bytes -> str, honouring a BOM, then a <meta charset>, then decode_text's guesses."""
    m = _META_CHARSET.search(data[:4096])
    declared = m.group(1).decode("ascii") if m else None
    return _XML_DECLARATION.sub("", decode_text(data, source, declared=declared))


def parse_dom(text: str) -> Any | None:
    """An lxml document for `text` with script/style/noscript/template removed, or None if empty."""
    import lxml.etree
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):  # "Document is empty"
        return None
    for el in list(doc.iter(*_INVISIBLE_TAGS)):
        el.drop_tree()  # keeps the tail text that follows the element
    return doc


def tree_depth(doc: Any) -> int:
    """How deeply elements nest in an lxml tree (the root is 1), without recursion."""
    import lxml.etree

    depth = deepest = 0
    for event, _ in lxml.etree.iterwalk(doc, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest


def was_cut_off(doc: Any) -> bool:
    """True when the tree reached libxml2's depth limit, so content below (and after) it is missing."""
    return tree_depth(doc) >= LXML_MAX_DEPTH - 1


class FlatHtmlText(html.parser.HTMLParser):
    """Text blocks of any HTML, however deep: block tags end paragraphs, h1-h6 are headings, list items lines.

    Built on the standard library's event parser, which keeps no tree, so nesting depth costs
    nothing; used for documents deeper than libxml2 keeps.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.blocks: list[tuple[str, int | None, bool]] = []  # (text, heading level, list item)
        self._buf: list[str] = []
        self._hidden = 0
        self._in_head = False  # until </head> or <body>: many pages never close their head
        self._in_title = False
        self._heading: int | None = None
        self._item = False

    def _flush(self) -> None:
        text = normalize_line("".join(self._buf))
        self._buf.clear()
        if text:
            self.blocks.append((text, self._heading, self._item))

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden += 1
        elif tag in ("head", "body"):
            self._in_head = tag == "head"
        elif tag == "title":
            self._in_title = True
        elif tag in ("td", "th"):
            self._buf.append(" ")
        elif tag == "br":
            self._flush()
        elif tag in _BLOCK_TAGS:
            self._flush()
            self._heading = int(tag[1]) if tag in _HEADINGS else None
            self._item = tag == "li"

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _BLOCK_TAGS or tag == "br":
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "head":
            self._in_head = False
        elif tag == "title":
            self._in_title = False
        elif tag in _BLOCK_TAGS:
            self._flush()
            self._heading = None
            self._item = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._hidden and not self._in_head:
            self._buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def flat_html_blocks(text: str) -> tuple[list[Block], str]:
    """Blocks (and the <title>) of HTML read by FlatHtmlText."""
    reader = FlatHtmlText()
    reader.feed(text)
    reader.close()
    trail = HeadingTrail()
    blocks = []
    for line, level, item in reader.blocks:
        if level is not None:
            blocks.append(Block(line, "title", trail.enter(level, line)))
        else:
            blocks.append(Block(f"- {line}" if item else line, "text", trail.path))
    return blocks, normalize_line(reader.title)


def html_to_text(html: str) -> str:
    """Readable text of an HTML string: block elements become paragraphs, list items "- " lines."""
    html = _XML_DECLARATION.sub("", html)
    doc = parse_dom(html)
    if doc is None:
        return ""
    if was_cut_off(doc):
        return "\n\n".join(b.text for b in flat_html_blocks(html)[0])
    for el in list(doc.iter("head", "title")):
        el.drop_tree()
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag == "br":
            el.tail = "\n" + (el.tail or "")
        elif el.tag in ("td", "th"):
            el.tail = " | " + (el.tail or "")
        elif el.tag in _BLOCK_TAGS:
            tight = el.tag in ("li", "tr", "dt", "dd")
            el.text = ("- " if el.tag == "li" else "" if tight else "\n\n") + (el.text or "")
            el.tail = ("\n" if tight else "\n\n") + (el.tail or "")
    text = doc.text_content()
    return re.sub(r"[ \t]*\|[ \t]*(\n|$)", r"\1", text)  # the separator after a row's last cell


class HtmlParser:
    """.html/.htm: partition_html elements; only real <h1>-<h6> build the heading path."""

    extensions = (".html", ".htm")

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Clean the DOM, partition it with unstructured, and map elements to blocks."""
        import lxml.html

        text = decode_html(data, source)
        doc = parse_dom(text)
        if doc is None:
            raise SkipFile("empty", f"{source}: no HTML content")
        if was_cut_off(doc):
            return self._parse_deep(data, text, source)
        title_el = doc.find(".//title")
        title = normalize_line(title_el.text_content()) if title_el is not None else ""
        # unstructured also calls short <p> text "Title"; heading levels come from the real tags.
        levels: dict[str, int] = {}
        first_h1 = ""
        for h in doc.iter(*_HEADINGS):
            key = compact(h.text_content())
            if key:
                levels.setdefault(key, int(h.tag[1]))
                if h.tag == "h1" and not first_h1:
                    first_h1 = normalize_line(h.text_content())
        cleaned = lxml.html.tostring(doc, encoding="unicode")

        try:
            elements = partitioner("html")(text=cleaned)
        except Exception as e:
            raise ParseFailure("corrupt_file", f"{source}: unreadable HTML ({type(e).__name__}: {e})") from e

        def heading_level(el: Any) -> int | None:
            return levels.get(compact(el.text or "")) if el.category == "Title" else None

        blocks = blocks_from_elements(elements, heading_level)
        if not blocks:
            raise SkipFile("empty", f"{source}: no text")
        return [new_document(data, source, blocks, title=title or first_h1 or None)]

    def _parse_deep(self, data: bytes, text: str, source: str) -> list[ParsedDocument]:
        """A document nested deeper than libxml2 keeps: its text through FlatHtmlText, with a warning."""
        blocks, title = flat_html_blocks(text)
        if not blocks:
            raise SkipFile("empty", f"{source}: no text (elements nested {LXML_MAX_DEPTH}+ deep, none holding text)")
        first_h1 = next((b.text for b in blocks if b.kind == "title"), "")
        warning = f"{source}: elements nest more than {LXML_MAX_DEPTH - 1} deep; read as plain paragraphs and headings (tables and lists are not structured)"
        return [new_document(data, source, blocks, title=title or first_h1 or None, warnings=[warning])]
