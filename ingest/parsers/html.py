"""HTML (.html/.htm) through unstructured's partition_html, and a light `html_to_text` for e-mail and Markdown."""

from __future__ import annotations

import re
from typing import Any

from ingest.document import ParsedDocument
from ingest.parsers.base import ParseContext, ParseFailure, SkipFile
from ingest.parsers.elements import blocks_from_elements, partitioner
from ingest.parsers.normalize import compact, new_document, normalize_line
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


def html_to_text(html: str) -> str:
    """Readable text of an HTML string: block elements become paragraphs, list items "- " lines."""
    doc = parse_dom(_XML_DECLARATION.sub("", html))
    if doc is None:
        return ""
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

        doc = parse_dom(decode_html(data, source))
        if doc is None:
            raise SkipFile("empty", f"{source}: no HTML content")
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
