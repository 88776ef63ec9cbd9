"""What a parser returns: a document as ordered blocks of text with their structure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["text", "title", "table", "list", "code"]


@dataclass(frozen=True)
class Block:
    """One structural element of a document.

    `heading` is the path of section titles the block sits under (outermost first).
    A table keeps its cells in `rows` (the first row is the header) and a rendering in `text`.
    """

    text: str
    kind: BlockKind = "text"
    heading: tuple[str, ...] = ()
    page: int | None = None
    rows: tuple[tuple[str, ...], ...] | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """A parsed source: `source` follows SPEC.md (archive members `a.zip/x.md`, attachments `m.eml/a.pdf`)."""

    source: str
    doc_type: str
    blocks: tuple[Block, ...]
    title: str | None = None
    warnings: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    file_hash: str | None = None  # hash of this document's own bytes (a member's, for archives)

    @property
    def text(self) -> str:
        """The document's normalised text: its blocks joined by blank lines."""
        return "\n\n".join(b.text for b in self.blocks)


def render_table(rows: tuple[tuple[str, ...], ...]) -> str:
    """A table as text: one line per row, cells separated by ' | '."""
    return "\n".join(" | ".join(cell for cell in row) for row in rows)
