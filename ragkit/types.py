"""The data ragkit hands out: chunks, hits, documents and reports (the CLI's JSON, as typed objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, model_serializer

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
    effective_date: str | None = None  # when the document took effect (ISO date), see ragkit.doctime
    date_origin: str | None = None  # email_date | effective | updated | issued | stated | source_name | file_mtime


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


class _Readable(Model):
    """A nested part of the JSON that also reads like it: `part["text"]`."""

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in type(self).model_fields else default


class Evidence(_Readable):
    """The source sentence closest to the question, with the source it is quoted from."""

    text: str
    n: int
    source: str
    score: float


class SpanChoice(_Readable):
    """The span an answer is: its text and kind, its mean token log-probability (None when chosen
    by the model's words, for a generator that cannot score), and how many spans competed."""

    text: str
    kind: str
    logprob: float | None
    candidates: int


class RetrievedRef(_Readable):
    """One retrieved chunk as an answer reports it (the full hit is in `query`)."""

    rank: int
    source: str
    chunk_id: str
    score: float


class Superseded(_Readable):
    """A source sentence passed over because a newer source says otherwise."""

    text: str
    source: str
    date: str | None


class Followed(_Readable):
    """The source an answer followed where sources disagreed, and why (newer | supersedes | as_of)."""

    source: str
    date: str | None
    reason: str


class AnswerDetails(Model):
    """How an answer came about. Only what a method set is in the JSON (a field it did not set is
    absent, not null); unknown names are refused, so a method cannot invent a key by a typo.
    Reads like the JSON too: `details["route"]`, `details.get("route")`, `"route" in details`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # every method
    model_answer: str | None = None
    finish_reason: str | None = None
    abstain_reason: str | None = None
    grounded: float | None = None
    adapter: str | None = None
    # methods that show sources
    evidence: Evidence | None = None
    answer_from: str | None = None  # "model" | "span" | "evidence" | None (abstained)
    span: SpanChoice | None = None  # answer_policy span: the span that won
    model_grounded: float | None = None
    missing_codes: list[str] | None = None  # abstain_reason code_not_found: the named codes no shown source mentions
    retrieved: list[RetrievedRef] | None = None
    top_dense: float | None = None
    shown: int | None = None  # rag: chunks shown
    hops: list[dict[str, Any]] | None = None  # a two-hop retrieval: each step's query and sources (ragkit.methods.hops)
    followed: Followed | None = None  # where sources disagreed: the current one
    superseded: list[Superseded] | None = None  # and what it replaced
    # long-context
    context_tokens: int | None = None
    documents_in_context: int | None = None
    corpus_tokens: int | None = None
    corpus_fraction_in_context: float | None = None
    truncated_document: str | None = None
    sources_in_context: list[str] | None = None
    # self-route
    route: str | None = None
    rag_abstain_reason: str | None = None

    @model_serializer(mode="wrap")
    def _only_what_was_set(self, handler):
        return {k: v for k, v in handler(self).items() if k in self.model_fields_set}

    def __getitem__(self, key: str) -> Any:
        if key not in self.model_fields_set:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.model_fields_set else default

    def __contains__(self, key: object) -> bool:
        return key in self.model_fields_set

    def as_dict(self) -> dict[str, Any]:
        """The set fields, nested models as dicts (what the JSON holds)."""
        return self.model_dump(mode="json")


class Answer(Model):
    """One method's answer to one question (the `ask` JSON)."""

    method: str
    answer: str
    abstained: bool
    citations: list[Citation]
    usage: Usage
    latency_ms: float
    details: AnswerDetails = AnswerDetails()


class MethodError(Model):
    method: str
    error: dict[str, str]


class Comparison(Model):
    question: str
    results: list[Answer | MethodError]


class Winner(_Readable):
    """The most accurate method, its margin over the runner-up, and whether that margin is significant (McNemar)."""

    method: str
    accuracy: float
    runner_up: str | None
    margin: float | None
    p_value: float | None
    significant: bool | None


class EvalSummary(_Readable):
    """What `ragkit eval --json` prints; the full report (every question, CIs, per kind) is in `report_json`.
    `methods` maps each method to its SPEC aggregate (accuracy, exact_match, f1, ci95, ...)."""

    methods: dict[str, dict[str, Any]]
    pairs: list[dict[str, Any]]
    winner: Winner | None
    report: str
    report_json: str
    warnings: list[str]
    cached_answers: int
    seconds: float
