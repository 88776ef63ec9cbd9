"""The parser seam: bytes of one input -> ParsedDocument(s), and the outcomes that are not documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from ingest.document import ParsedDocument


class SkipFile(Exception):
    """The input is deliberately not ingested (reason: unsupported_type, too_large, no_text_layer, empty...)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ParseFailure(Exception):
    """The input could not be parsed (code: corrupt_file, parse_timeout, archive_limit, ...)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ParseLimits:
    max_file_bytes: int = 25 * 1024 * 1024
    archive_max_members: int = 2000
    archive_max_bytes: int = 512 * 1024 * 1024
    archive_max_depth: int = 2


@dataclass(frozen=True)
class ChildOutcome:
    """A member of a container (archive entry, attachment) that did not become a document."""

    source: str
    status: str  # "skipped" | "failed"
    code: str  # skip reason or failure code
    message: str


@dataclass
class ExpansionBudget:
    """Bytes unpacked from archives so far, shared by every container nested in one input (zip-bomb guard)."""

    limit: int
    used: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def charge(self, n: int) -> bool:
        """Count `n` more unpacked bytes; False once the total is over the limit."""
        self.used += n
        return self.used <= self.limit


@dataclass
class ParseContext:
    """What a parser may use besides the bytes: limits, nesting depth, and a way to parse children.

    Containers (zip, e-mail) call `parse_member(ctx, data, source)` for each member/attachment:
    it runs `parse_child` (one level deeper, same limits, budget and outcomes) and turns a
    SkipFile/ParseFailure into a ChildOutcome. `budget` counts bytes unpacked from archives
    across the whole tree of one input.
    """

    limits: ParseLimits
    depth: int = 0
    parse_child: Callable[[bytes, str, "ParseContext"], list[ParsedDocument]] | None = None
    outcomes: list[ChildOutcome] = field(default_factory=list)
    budget: ExpansionBudget | None = None


@dataclass(frozen=True)
class ParseResult:
    """What one input became: its documents (members and attachments included) and the members that did not."""

    documents: list[ParsedDocument]
    outcomes: list[ChildOutcome] = field(default_factory=list)


def parse_member(ctx: ParseContext, data: bytes, source: str) -> list[ParsedDocument]:
    """Parse one member/attachment of a container; a skip or failure becomes an outcome, never an exception."""
    parse_child = ctx.parse_child
    if parse_child is None:  # a container used outside the registry: recurse through the registry anyway
        from ingest.parsers import parse_child
    try:
        return parse_child(data, source, ctx)
    except SkipFile as e:
        ctx.outcomes.append(ChildOutcome(source, "skipped", e.reason, str(e)))
    except ParseFailure as e:
        ctx.outcomes.append(ChildOutcome(source, "failed", e.code, str(e)))
    return []


class Parser(Protocol):
    """Turns one input's bytes into documents. `source` is the document's SPEC.md source string."""

    extensions: tuple[str, ...]

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]: ...
