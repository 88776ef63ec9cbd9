"""Structure-aware chunking: sections by heading, tables by rows, text by llama-index's SentenceSplitter.

Every chunk's `embed_text` (title and heading path, then the body) fits the embedding model's
window, measured in that model's own tokens; `text` is the body alone, with char offsets into
the document's text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterator

from ingest.document import Block, ParsedDocument, render_table
from ragkit.fingerprints import chunker_fingerprint
from ragkit.types import Chunk

HEADING_SEP = " > "


@dataclass(frozen=True)
class ChunkerConfig:
    chunk_tokens: int
    chunk_overlap: int
    window_tokens: int  # the embedder's content-token limit

    @property
    def fingerprint(self) -> str:
        return chunker_fingerprint(self.chunk_tokens, self.chunk_overlap, self.window_tokens)


@dataclass(frozen=True)
class _Run:
    """Consecutive blocks of one section and kind: the unit that is split."""

    kind: str
    heading: tuple[str, ...]
    blocks: tuple[tuple[Block, int], ...]  # block and its offset in the document text


def chunk_id_for(doc_id: str, ordinal: int, embed_text: str) -> str:
    digest = hashlib.sha256(f"{doc_id}\x1f{ordinal}\x1f{embed_text}".encode()).hexdigest()
    return f"{doc_id[:12]}-{digest[:16]}"


class StructuredChunker:
    """Splits a ParsedDocument into Chunks; `count_tokens` is the embedding model's tokenizer."""

    def __init__(self, config: ChunkerConfig, count_tokens: Callable[[str], int]):
        self.config = config
        self.count_tokens = count_tokens

    def chunk(self, doc: ParsedDocument, doc_id: str, base_metadata: dict | None = None) -> list[Chunk]:
        chunks: list[Chunk] = []
        for run in self._runs(doc):
            prefix = self._prefix(doc.title, run.heading)
            budget = self._budget(prefix)
            pieces = self._split_table(run, budget) if run.kind == "table" else self._split_text(run, budget)
            for text, start, end, page in pieces:
                ordinal = len(chunks)
                embed_text = f"{prefix}\n{text}" if prefix else text
                metadata = dict(base_metadata or {})
                metadata.update(
                    doc_id=doc_id,
                    ordinal=ordinal,
                    element_type=run.kind,
                    doc_type=doc.doc_type,
                )
                if run.heading:
                    metadata["heading"] = HEADING_SEP.join(run.heading)
                if doc.title:
                    metadata["title"] = doc.title
                if page is not None:
                    metadata["page"] = page
                chunks.append(
                    Chunk(
                        chunk_id=chunk_id_for(doc_id, ordinal, embed_text),
                        doc_id=doc_id,
                        ordinal=ordinal,
                        text=text,
                        embed_text=embed_text,
                        start=start,
                        end=end,
                        metadata=metadata,
                    )
                )
        return chunks

    # -- structure ---------------------------------------------------------------------------

    def _runs(self, doc: ParsedDocument) -> Iterator[_Run]:
        """Group blocks into runs: same heading path and same kind class (table vs prose)."""
        offset = 0
        current: list[tuple[Block, int]] = []
        key: tuple | None = None
        for block in doc.blocks:
            block_offset = offset
            offset += len(block.text) + 2  # blocks are joined by a blank line
            if block.kind == "title" and block.heading and block.text.strip() == block.heading[-1]:
                continue  # the section's own heading travels in the prefix
            kind = "table" if block.kind == "table" else "text"
            this_key = (kind, block.heading, id(block) if kind == "table" else None)
            if key is not None and this_key != key and current:
                yield _Run(key[0], key[1], tuple(current))
                current = []
            key = this_key
            current.append((block, block_offset))
        if current and key is not None:
            yield _Run(key[0], key[1], tuple(current))

    def _prefix(self, title: str | None, heading: tuple[str, ...]) -> str:
        parts = list(heading)
        if title and (not parts or parts[0] != title):
            parts.insert(0, title)
        prefix = HEADING_SEP.join(p for p in parts if p)
        # a heading path may never eat more than a third of the window
        limit = self.config.window_tokens // 3
        while prefix and self.count_tokens(prefix) > limit:
            prefix = prefix[: int(len(prefix) * 0.8)].rstrip()
        return prefix

    def _budget(self, prefix: str) -> int:
        window = min(self.config.chunk_tokens, self.config.window_tokens)
        used = self.count_tokens(prefix) + 1 if prefix else 0
        return max(16, window - used)

    # -- prose -------------------------------------------------------------------------------

    def _split_text(self, run: _Run, budget: int) -> list[tuple[str, int, int, int | None]]:
        start = run.blocks[0][1]
        end = run.blocks[-1][1] + len(run.blocks[-1][0].text)
        text = "\n\n".join(b.text for b, _ in run.blocks)
        page_at = _page_lookup(run.blocks)
        if self.count_tokens(text) <= budget:
            return [(text, start, end, page_at(start))] if text.strip() else []
        splitter = _splitter(budget, min(self.config.chunk_overlap, budget // 4), self.count_tokens)
        pieces = []
        cursor = 0
        for piece in splitter.split_text(text):
            piece = piece.strip()
            if not piece:
                continue
            found = text.find(piece, cursor)
            if found < 0:
                found = text.find(piece[:40], cursor)
            found = max(found, cursor) if found >= 0 else cursor
            pieces.append((piece, start + found, start + found + len(piece), page_at(start + found)))
            cursor = found + 1
        return pieces

    # -- tables ------------------------------------------------------------------------------

    def _split_table(self, run: _Run, budget: int) -> list[tuple[str, int, int, int | None]]:
        block, offset = run.blocks[0]
        if not block.rows or len(block.rows) < 2 or self.count_tokens(block.text) <= budget:
            return self._split_text(_Run("text", run.heading, run.blocks), budget)
        header, *rows = block.rows
        # char span of each body row, when the block's text is the standard rendering
        lines = block.text.split("\n")
        spans: list[tuple[int, int]] = []
        if block.text == render_table(block.rows):
            pos = offset
            for line in lines:
                spans.append((pos, pos + len(line)))
                pos += len(line) + 1
        else:
            spans = [(offset, offset + len(block.text))] * len(block.rows)
        header_tokens = self.count_tokens(render_table((header,))) + 1
        pieces: list[tuple[str, int, int, int | None]] = []
        group: list[int] = []
        used = header_tokens

        def flush() -> None:
            text = render_table((header, *(rows[i] for i in group)))
            pieces.append((text, spans[group[0] + 1][0], spans[group[-1] + 1][1], block.page))

        for i, row in enumerate(rows):
            tokens = self.count_tokens(render_table((row,))) + 1
            if group and used + tokens > budget:
                flush()
                group, used = [], header_tokens
            group.append(i)
            used += tokens
        if group:
            flush()
        # a single row longer than the budget still has to fit the window
        fitted = []
        for text, s, e, page in pieces:
            if self.count_tokens(text) <= budget:
                fitted.append((text, s, e, page))
            else:
                fake = Block(text=text, heading=run.heading, page=page)
                fitted.extend(self._split_text(_Run("text", run.heading, ((fake, s),)), budget))
        return fitted


def _page_lookup(blocks: tuple[tuple[Block, int], ...]) -> Callable[[int], int | None]:
    def page_at(position: int) -> int | None:
        page = None
        for block, offset in blocks:
            if offset > position:
                break
            page = block.page
        return page

    return page_at


@lru_cache(maxsize=64)
def _splitter(chunk_size: int, chunk_overlap: int, count_tokens: Callable[[str], int]):
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=_TokenList(count_tokens),
        paragraph_separator="\n\n",
    )


class _TokenList:
    """Adapts a token counter to the `tokenizer(text) -> list` shape SentenceSplitter expects."""

    def __init__(self, count_tokens: Callable[[str], int]):
        self.count_tokens = count_tokens

    def __call__(self, text: str) -> list[int]:
        return [0] * self.count_tokens(text)
