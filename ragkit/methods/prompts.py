"""One prompt skeleton for every method: instruction, optional numbered sources, question.

Sources are delimited as data and numbered; the instruction asks for a short answer, `[n]`
citations, and "I don't know" when the sources lack the answer. Citations are parsed back here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ragkit.generation.base import Message

IDK = "I don't know"

INSTRUCTION_WITH_SOURCES = (
    "You answer questions using only the numbered sources. Reply with the answer alone, in a few words "
    "copied from the source, then the source number in brackets. "
    f"If the sources do not contain the answer, reply exactly: {IDK}."
)
INSTRUCTION_CLOSED = f"Reply with the answer alone, in a few words. If you do not know the answer, reply exactly: {IDK}."

# a small model keeps writing after its answer; these end it
STOP = ("\nQuestion:", "Question:", "\n\n", "<|im_end|>", "\nSources:", "\nSource")


@dataclass(frozen=True)
class SourceText:
    """A piece of context shown to the model: a chunk or a whole document."""

    n: int
    source: str
    text: str
    chunk_id: str | None = None
    heading: str | None = None
    date: str | None = None  # the document's effective date (ragkit.doctime), shown to the model
    date_origin: str | None = None
    supersedes: str | None = None


def render_sources(sources: list[SourceText]) -> str:
    parts = []
    for s in sources:
        label = s.source if not s.date else f"{s.source}, {s.date}"
        label = label if not s.heading else f"{label} - {s.heading}"
        parts.append(f"[{s.n}] ({label})\n{s.text.strip()}")
    return "\n\n".join(parts)


def build_messages(question: str, sources: list[SourceText] | None) -> list[Message]:
    """The chat for one question; `sources=None` is closed-book (no context at all)."""
    if sources is None:
        return [Message("system", INSTRUCTION_CLOSED), Message("user", f"Question: {question.strip()}\nAnswer:")]
    body = f"Sources:\n<<<\n{render_sources(sources)}\n>>>\n\nQuestion: {question.strip()}\nAnswer:"
    return [Message("system", INSTRUCTION_WITH_SOURCES), Message("user", body)]


_CITE_RE = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


def parse_citations(text: str, shown: int) -> tuple[str, list[int]]:
    """Strip `[n]` markers from an answer; return the clean text and the valid cited numbers."""
    cited: list[int] = []
    for match in _CITE_RE.finditer(text):
        for part in match.group(1).split(","):
            n = int(part)
            if 1 <= n <= shown and n not in cited:
                cited.append(n)
    clean = _CITE_RE.sub("", text)
    clean = re.sub(r"\s+([.,;:])", r"\1", clean)
    return re.sub(r"\s{2,}", " ", clean).strip(), cited


def clean_answer(text: str) -> str:
    """Trim run-on output: leading 'Answer:' labels, repeated lines, dangling quotes."""
    text = re.sub(r"^\s*((the\s+)?answer(\s+is)?|a)\s*[:\-]\s*", "", text, flags=re.I).strip()
    first = text.split("\n", 1)[0].strip()
    return first.strip(" \"'")
