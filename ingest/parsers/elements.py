"""Turning unstructured's element stream (html, docx, pptx) into Blocks with heading paths and tables."""

from __future__ import annotations

import importlib
from typing import Any, Callable, Iterable

from ingest.document import Block, render_table
from ingest.parsers.normalize import HeadingTrail, normalize_line

# Repeated page furniture and layout markers carry no content worth indexing.
_SKIPPED = {"PageBreak", "Header", "Footer", "PageNumber", "Image"}


def partitioner(name: str) -> Callable[..., list[Any]]:
    """unstructured's `partition_<name>`, imported only after its telemetry and hub access are off."""
    from ragkit.process_defaults import apply_defaults

    apply_defaults()  # DO_NOT_TRACK etc.: unstructured reads them at import and on every call
    _import_spacy_without_torch()
    return getattr(importlib.import_module(f"unstructured.partition.{name}"), f"partition_{name}")


def _import_spacy_without_torch() -> None:
    """unstructured imports spaCy (its sentence splitter), spaCy imports thinc, and thinc imports
    torch if it can, only for its PyTorch layer wrappers, which spaCy's small English pipeline
    never uses. That import took 2-3 s of each parser worker's ~3 s start on 2 cores. spaCy is
    imported with torch hidden, so thinc records it as absent; torch stays importable afterwards
    for whatever else needs it. Nothing is done when torch or spaCy is already loaded."""
    import sys

    if "torch" in sys.modules or "spacy" in sys.modules:
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError
    try:
        import spacy  # noqa: F401
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


def blocks_from_elements(
    elements: Iterable[Any],
    heading_level: Callable[[Any], int | None],
    *,
    base: tuple[str, ...] = (),
    page_of: Callable[[Any], int | None] = lambda el: None,
) -> list[Block]:
    """Blocks from unstructured elements.

    `heading_level(element)` says whether an element is a real heading (1 = outermost) or not
    (None); the caller decides, because unstructured also labels short plain text "Title".
    Consecutive list items become one list block; tables keep their rows.
    """
    trail = HeadingTrail(base)
    blocks: list[Block] = []
    items: list[str] = []
    items_page: int | None = None

    def flush_list() -> None:
        if items:
            blocks.append(Block("\n".join(f"- {t}" for t in items), "list", trail.path, items_page))
            items.clear()

    for el in elements:
        category = getattr(el, "category", "")
        text = (getattr(el, "text", "") or "").strip()
        page = page_of(el)
        if category in _SKIPPED:
            continue
        if category != "ListItem" or page != items_page:
            flush_list()
        if category == "Table":
            rows = table_rows_from_html(getattr(el.metadata, "text_as_html", None))
            if rows:
                blocks.append(Block(render_table(rows), "table", trail.path, page, rows))
            elif text:
                blocks.append(Block(text, "text", trail.path, page))
            continue
        if not text:
            continue
        level = heading_level(el)
        if level is not None:
            blocks.append(Block(text, "title", trail.enter(level, text), page))
        elif category == "ListItem":
            items.append(text)
            items_page = page
        elif category == "CodeSnippet":
            blocks.append(Block(text, "code", trail.path, page))
        else:
            blocks.append(Block(text, "text", trail.path, page))
    flush_list()
    return blocks


def table_rows_from_html(html: str | None) -> tuple[tuple[str, ...], ...] | None:
    """The cells of an HTML table, one tuple per non-empty row, padded to the widest row."""
    if not html or "<t" not in html:
        return None
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except Exception:  # an unparsable fragment: the caller falls back to the element's text
        return None
    rows: list[tuple[str, ...]] = []
    for tr in root.iter("tr"):
        cells = tuple(normalize_line(c.text_content()) for c in tr if c.tag in ("td", "th"))
        if any(cells):
            rows.append(cells)
    if not rows:
        return None
    width = max(len(r) for r in rows)
    return tuple(r + ("",) * (width - len(r)) for r in rows)
