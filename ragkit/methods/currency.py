"""Current answers: when sources disagree about the same thing, the newer one wins.

Documents carry their effective date (ragkit.doctime). Two places use it:

- `keep_newer_versions` (retrieval): a newer document that states the same thing as a shown,
  older one is shown too, ahead of it, even when it ranked lower. The anchor is LlamaIndex's
  FixedRecencyPostprocessor / EmbeddingRecencyPostprocessor (sort by a date key; drop older nodes
  too similar to a newer one); here the older one is kept, after the newer, so that the answer
  can say what it replaced.
- `choose_current` (the evidence sentence): among the sentences that match the question about as
  well as the best one and say the same thing with other values, the one from the newest source
  is taken. An explicit "supersedes / replaces" in a document beats a date; a date the document
  states beats a file's modification time (which is compared only with another file time). A
  date in the question ("for an order received in July 2024", "under the 2022 policy") moves
  "now" to that date: the newest source in force then is taken.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Sequence

from ragkit.doctime import DATE_RE, RECENCY_CUES, date_of_match
from ragkit.textnorm import normalize, with_digits

_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z][a-z\-]+")
_STOP = frozenset(
    "a an and are as at be by for from has have in is it its of on or per that the this to was were with which who will "
    "all any each every not no than then there these those our we you your their".split()
)
SAME_THING = 0.25  # content-word overlap (Jaccard) from which two passages speak of the same thing
SAME_CHUNK = 0.15  # the same, for whole chunks (longer, so less of their words are shared)
NEAR_BEST = 0.12  # how far below the best sentence's score a newer sentence may be and still be taken
NEAR_BEST_ASKED_NOW = 0.3  # the same when the question asks what holds now ("current", "today", "still")


@dataclass(frozen=True)
class Dated:
    """When a source took effect, and how sure that is."""

    date: str | None  # ISO
    origin: str | None
    supersedes: str | None = None

    @property
    def stated(self) -> bool:
        """The document says its own date (not a file time)."""
        return self.date is not None and self.origin != "file_mtime"


def dated(metadata: dict | None) -> Dated:
    m = metadata or {}
    return Dated(m.get("doc_date"), m.get("doc_date_origin"), m.get("supersedes"))


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def overlap(a: str, b: str) -> float:
    wa, wb = content_words(a), content_words(b)
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def values(text: str) -> set[str]:
    """The numbers a passage states, in digits or words ("two days" -> 2): what changes between versions of a fact."""
    return {n.replace(",", "") for n in _NUMBER.findall(with_digits(text))}


def as_of(question: str) -> str | None:
    """The date a question asks about (the end of a month or year it names), else None (today)."""
    m = DATE_RE.search(question)
    if m:
        d = date_of_match(m)
        if d is not None:
            if m.group("m4"):  # "July 2024": any day of that month
                d = date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])
            return d.isoformat()
    y = _YEAR.search(question)
    return f"{y.group(1)}-12-31" if y else None


def newer(a: Dated, b: Dated, limit: str | None = None) -> bool:
    """Whether `a` is the more current of two dated sources (as of `limit`, when the question names a date)."""
    return a.date is not None and b.date is not None and rank_key(a, limit) > rank_key(b, limit)


def rank_key(d: Dated, limit: str | None) -> tuple:
    """Sort key, most current first: in force at `limit`, a stated date, then the date itself."""
    in_force = d.date is not None and (limit is None or d.date <= limit)
    return (in_force, d.stated, d.date or "")


def keep_newer_versions(hits: Sequence, k: int, question: str) -> list:
    """The hits reordered so that, for each of the first k, the retrieved chunk of a newer document
    that overlaps it most (a newer version of the same passage) is shown just before it, even when
    it ranked lower (see the module docstring). Hits are ragkit.types.Hit."""
    limit = as_of(question)
    order = list(hits)
    shown = order[:k]
    for older in list(shown):
        when = dated(older.metadata)
        if not when.stated:  # a file time says nothing about which version is current
            continue
        versions = [
            (overlap(h.text, older.text), i)
            for i, h in enumerate(order)
            if h not in shown and h.doc_id != older.doc_id and dated(h.metadata).stated and newer(dated(h.metadata), when, limit)
        ]
        versions = [v for v in versions if v[0] >= SAME_CHUNK]
        if versions:
            shown.insert(shown.index(older), order[max(versions)[1]])
    return shown + [h for h in order if h not in shown]


@dataclass(frozen=True)
class Candidate:
    text: str
    score: float
    source: str
    n: int
    when: Dated


def choose_current(candidates: list[Candidate], question: str) -> tuple[Candidate, list[Candidate], str | None]:
    """The sentence to answer from, the sentences of older sources it supersedes, and why
    (`newer`, `supersedes`, `as_of`; None when no other source disagreed)."""
    best = max(candidates, key=lambda c: c.score)
    limit = as_of(question)
    margin = NEAR_BEST_ASKED_NOW if RECENCY_CUES.search(question) else NEAR_BEST
    rivals = [
        c for c in candidates
        if c.source != best.source and c.score >= best.score - margin and overlap(c.text, best.text) >= SAME_THING
        and values(c.text) != values(best.text) and normalize(c.text) != normalize(best.text)
    ]
    if not rivals:
        return best, [], None
    pool = [best, *rivals]
    explicit = [c for c in pool if c.when.supersedes and any(overlap(c.when.supersedes, o.text) > 0 or _names(c.when.supersedes, o) for o in pool if o is not c)]
    if explicit and limit is None:
        chosen, reason = max(explicit, key=lambda c: rank_key(c.when, limit)), "supersedes"
    else:
        chosen = max(pool, key=lambda c: (rank_key(c.when, limit), c.score))
        reason = "as_of" if limit else "newer"
    older = [c for c in pool if c is not chosen and rank_key(c.when, limit) < rank_key(chosen.when, limit)]
    if not older:
        return best, [], None
    return chosen, older, reason


def _names(what: str, other: Candidate) -> bool:
    """An explicit "supersedes Rev C / version 1 / the 2022 policy" naming the other source's file."""
    stem = other.source.rsplit("/", 1)[-1].lower()
    return any(tok in stem for tok in re.findall(r"(?:19|20)\d\d", what))
