"""Markdown (.md/.markdown) with markdown-it-py: CommonMark plus GFM tables and strikethrough."""

from __future__ import annotations

import re
from typing import Any

from ingest.document import Block, ParsedDocument, render_table
from ingest.parsers.base import ParseContext, SkipFile
from ingest.parsers.normalize import HeadingTrail, new_document, normalize_line
from ingest.parsers.text import decode_text

# YAML front matter ("---" ... "---" or "...") would otherwise read as a rule and a setext heading.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.M)


def _inline_text(node: Any) -> str:
    """Plain text of an inline node: words, code spans and image alt text; markup and raw HTML dropped."""
    parts: list[str] = []
    for tok in node.token.children or ():
        if tok.type in ("text", "code_inline", "image"):
            parts.append(tok.content)
        elif tok.type == "softbreak":
            parts.append(" ")
        elif tok.type == "hardbreak":
            parts.append("\n")
    return "".join(parts)


class _Walker:
    """Walks the syntax tree once, keeping the heading trail, and collects blocks."""

    def __init__(self) -> None:
        self.trail = HeadingTrail()
        self.blocks: list[Block] = []
        self.first_h1: str | None = None

    def walk(self, node: Any) -> None:
        for child in node.children:
            self.visit(child)

    def visit(self, node: Any) -> None:
        kind = node.type
        if kind == "heading":
            text = normalize_line(_inline_text(node.children[0])) if node.children else ""
            if text:
                level = int(node.tag[1])
                if level == 1 and self.first_h1 is None:
                    self.first_h1 = text
                self.blocks.append(Block(text, "title", self.trail.enter(level, text)))
        elif kind == "paragraph":
            self._add(_inline_text(node.children[0]) if node.children else "", "text")
        elif kind in ("bullet_list", "ordered_list"):
            self._add("\n".join(_list_lines(node, 0)), "list")
        elif kind in ("fence", "code_block"):
            self._add(node.content, "code")
        elif kind == "table":
            rows = tuple(
                tuple(_inline_text(cell.children[0]) if cell.children else "" for cell in tr.children)
                for section in node.children
                for tr in section.children
            )
            if rows:
                self.blocks.append(Block(render_table(rows), "table", self.trail.path, rows=rows))
        elif kind == "html_block":
            from ingest.parsers.html import html_to_text

            self._add(html_to_text(node.content), "text")
        elif kind == "blockquote":
            self.walk(node)
        # hr and anything unknown carry no text

    def _add(self, text: str, kind: str) -> None:
        if text.strip():
            self.blocks.append(Block(text, kind, self.trail.path))  # type: ignore[arg-type]


def _list_lines(node: Any, depth: int) -> list[str]:
    """A (nested) list as lines: "- item" or "3. item", nested lists indented by two spaces."""
    lines: list[str] = []
    number = int(node.attrs.get("start", 1)) if node.type == "ordered_list" else None
    for item in node.children:
        marker = f"{number}." if number is not None else "-"
        texts: list[str] = []
        nested: list[str] = []
        for child in item.children:
            if child.type == "paragraph" and child.children:
                texts.append(_inline_text(child.children[0]))
            elif child.type in ("bullet_list", "ordered_list"):
                nested.extend(_list_lines(child, depth + 1))
            elif child.type in ("fence", "code_block"):
                texts.append(child.content)
        lines.append("  " * depth + f"{marker} " + " ".join(t.strip() for t in texts))
        lines.extend(nested)
        if number is not None:
            number += 1
    return lines


class MarkdownParser:
    """.md/.markdown: headings build the heading path; tables keep their rows; title = first h1."""

    extensions = (".md", ".markdown")

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Parse with markdown-it-py and walk the syntax tree."""
        from markdown_it import MarkdownIt
        from markdown_it.tree import SyntaxTreeNode

        text = decode_text(data, source)
        front_title = None
        m = _FRONT_MATTER.match(text)
        if m:
            t = _FRONT_TITLE.search(m.group(1))
            front_title = t.group(1).strip("'\"") if t else None
            text = text[m.end() :]
        md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
        walker = _Walker()
        walker.walk(SyntaxTreeNode(md.parse(text)))
        if not walker.blocks:
            raise SkipFile("empty", f"{source}: no text")
        return [new_document(data, source, walker.blocks, title=walker.first_h1 or front_title)]
