"""Runs in parser worker processes: bytes -> parsed documents -> chunks, nothing shared with the parent."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from ingest.chunking import ChunkerConfig, StructuredChunker
from ingest.document import ParsedDocument
from ingest.parsers.base import ChildOutcome, ParseLimits
from ragkit.doctime import document_time
from ragkit.fingerprints import content_hash_for, doc_id_for
from ragkit.types import Chunk


@dataclass(frozen=True)
class ParsedUnit:
    """One document ready to embed."""

    source: str
    doc_id: str
    doc_type: str
    title: str | None
    file_hash: str | None
    content_hash: str
    chars: int
    text: str
    chunks: list[Chunk]
    warnings: tuple[str, ...] = ()
    effective_date: str | None = None
    date_origin: str | None = None


@dataclass
class WorkResult:
    container: str
    units: list[ParsedUnit] = field(default_factory=list)
    outcomes: list[ChildOutcome] = field(default_factory=list)
    skip: tuple[str, str] | None = None  # (reason, message) for the whole file
    failure: tuple[str, str] | None = None  # (code, message) for the whole file


@lru_cache(maxsize=4)
def _token_counter(tokenizer_path: str):
    """Counts the embedding model's tokens; `tokenizers` alone when the folder has tokenizer.json."""
    from pathlib import Path

    fast = Path(tokenizer_path) / "tokenizer.json"
    if fast.exists():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(fast))
        tok.no_truncation()
        tok.no_padding()

        def encode(text: str) -> int:
            return len(tok.encode(text, add_special_tokens=False).ids)

    else:
        from transformers import AutoTokenizer

        auto = AutoTokenizer.from_pretrained(tokenizer_path, local_files_only=True)
        auto.model_max_length = 1 << 30  # we count, we do not truncate

        def encode(text: str) -> int:
            return len(auto.encode(text, add_special_tokens=False))

    return lru_cache(maxsize=65536)(encode)


def init_worker() -> None:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")


def parse_and_chunk(
    data: bytes,
    container: str,
    root: str,
    collection: str,
    limits: ParseLimits,
    chunker: ChunkerConfig,
    tokenizer_path: str,
    settings_fp: str,
) -> WorkResult:
    """Parse one input (a file, an upload) and chunk every document it yields."""
    from ingest.parsers import parse_bytes
    from ingest.parsers.base import ParseFailure, SkipFile

    result = WorkResult(container=container)
    try:
        parsed = parse_bytes(data, container, limits)
    except SkipFile as e:
        result.skip = (e.reason, str(e))
        return result
    except ParseFailure as e:
        result.failure = (e.code, str(e))
        return result
    except Exception as e:  # a parser bug must not stop the batch; name the input
        result.failure = ("parse_error", f"{container}: {type(e).__name__}: {e}")
        return result
    result.outcomes = list(parsed.outcomes)
    splitter = chunker_for(chunker, tokenizer_path)
    for doc in parsed.documents:
        unit = chunk_document(doc, collection, root, splitter, settings_fp)
        if unit is None:
            result.outcomes.append(ChildOutcome(doc.source, "skipped", "empty", f"{doc.source}: no text to index"))
            continue
        result.units.append(unit)
    return result


def chunker_for(chunker: ChunkerConfig, tokenizer_path: str) -> StructuredChunker:
    """A chunker that measures in the embedding model's tokens."""
    return StructuredChunker(chunker, _token_counter(tokenizer_path))


def chunk_document(doc: ParsedDocument, collection: str, root: str, splitter: StructuredChunker, settings_fp: str) -> ParsedUnit | None:
    """One parsed document -> a unit ready to embed, or None when it has no text to index."""
    doc_id = doc_id_for(collection, doc.source)
    text = doc.text
    base = {"source": doc.source, "root": root}
    base.update({k: v for k, v in doc.metadata.items() if isinstance(v, (str, int, float, bool))})
    when = document_time(text, doc.source, doc.metadata)
    if when is not None:
        base.update(when.metadata())
    chunks = splitter.chunk(doc, doc_id, base)
    if not chunks:
        return None
    return ParsedUnit(
        source=doc.source,
        doc_id=doc_id,
        doc_type=doc.doc_type,
        title=doc.title,
        file_hash=doc.file_hash,
        content_hash=content_hash_for(text, settings_fp),
        chars=len(text.encode("utf-8")),
        text=text,
        chunks=chunks,
        warnings=tuple(doc.warnings),
        effective_date=when.date if when else None,
        date_origin=when.origin if when else None,
    )
