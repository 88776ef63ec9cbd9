"""The data ragkit hands out: chunks, hits, documents and reports (the CLI's JSON, as typed objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

Metadata = dict[str, str | int | float | bool]

ProgressFn = Callable[[str, int, int], None]
"""Progress of long work: (stage, done, total); the library reports, the CLI renders it with rich."""


def no_progress(stage: str, done: int, total: int) -> None:
    """The ProgressFn that reports nowhere."""


@dataclass(frozen=True)
class Chunk:
    """A piece of one document that fits the embedding window.

    `text` is what readers see; `embed_text` adds the document title and heading path so the
    chunk is findable out of context. `start`/`end` are char offsets into the document's text.
    """

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    embed_text: str
    start: int
    end: int
    metadata: Metadata = field(default_factory=dict)


class Model(BaseModel):
    """Base for outward types: immutable, JSON-ready with `.to_dict()`."""

    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Hit(Model):
    rank: int
    score: float
    doc_id: str
    source: str
    chunk_id: str
    text: str
    metadata: dict[str, Any]


class QueryResult(Model):
    hits: list[Hit]


class DocumentInfo(Model):
    doc_id: str
    source: str
    root: str
    chunks: int
    bytes: int
    content_hash: str
    ingested_at: str
    doc_type: str | None = None
    status: str = "indexed"


class ChunkInfo(Model):
    chunk_id: str
    doc_id: str
    source: str
    ordinal: int
    start: int
    end: int
    text: str
    metadata: dict[str, Any]


class SkippedItem(Model):
    source: str
    reason: str
    message: str | None = None


class FailedItem(Model):
    source: str
    error: str
    message: str


class WarningItem(Model):
    source: str
    message: str


class IngestReport(Model):
    collection: str
    files_seen: int
    added: int
    updated: int
    unchanged: int
    deleted: int
    skipped: list[SkippedItem]
    failed: list[FailedItem]
    warnings: list[WarningItem]
    chunks_added: int
    chunks_deleted: int
    seconds: float
    revision: int


class Citation(Model):
    n: int
    source: str
    chunk_id: str | None = None
    cited: bool = True


class Usage(Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Answer(Model):
    """One method's answer to one question (the `ask` JSON)."""

    method: str
    answer: str
    abstained: bool
    citations: list[Citation]
    usage: Usage
    latency_ms: float
    details: dict[str, Any] = {}


class MethodError(Model):
    method: str
    error: dict[str, str]


class Comparison(Model):
    question: str
    results: list[Answer | MethodError]
