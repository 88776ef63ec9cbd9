"""Eval sets: JSON Lines, one question per line (SPEC.md, Eval sets)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator

from ragkit.errors import InputError
from ragkit.jsonl import read_jsonl
from ragkit.types import Model

UNANSWERABLE = "UNANSWERABLE"
# "\ud800" is valid JSON but not text: it cannot be encoded to UTF-8 for the model, the cache or a report
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_surrogates(text: str) -> str:
    if _LONE_SURROGATE.search(text):
        raise ValueError("holds an unpaired surrogate escape (such as \\ud800), which is not text")
    return text


class EvalQuestion(Model):
    id: str
    question: str
    answer: str
    aliases: list[str] = []
    wrong: list[str] = []
    source: list[str] = []
    kind: str | None = None

    @field_validator("id", "question", "answer", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str:
        if v is None or (isinstance(v, str) and not v.strip()):
            raise ValueError("must be a non-empty string")
        if not isinstance(v, (str, int, float)):
            raise ValueError("must be a string")
        return _no_surrogates(str(v).strip())

    @field_validator("aliases", "wrong", mode="before")
    @classmethod
    def _list(cls, v: Any) -> list[str]:
        if v is None:
            return []
        if isinstance(v, str):
            return [_no_surrogates(v)]
        if not isinstance(v, list):
            raise ValueError("must be a list of strings")
        return [_no_surrogates(str(x)) for x in v if str(x).strip()]

    @field_validator("source", mode="before")
    @classmethod
    def _sources(cls, v: Any) -> list[str]:
        if v is None or v == "":
            return []
        if isinstance(v, str):
            return [_no_surrogates(v)]
        if not isinstance(v, list):
            raise ValueError("must be a string, a list or []")
        return [_no_surrogates(str(x)) for x in v]

    @field_validator("kind", mode="after")
    @classmethod
    def _kind(cls, v: str | None) -> str | None:
        return None if v is None else _no_surrogates(v)

    @property
    def answerable(self) -> bool:
        return self.answer != UNANSWERABLE

    @property
    def accepted(self) -> list[str]:
        return [self.answer, *self.aliases]


def load_evalset(path: str | Path) -> list[EvalQuestion]:
    """Parse an eval set; a malformed line is an error naming its line number; duplicate ids are refused."""
    p = Path(path)
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for n, row in read_jsonl(p, code="invalid_evalset", missing="no such eval set file"):
        if not isinstance(row, dict):
            raise InputError(f"{p} line {n}: expected a JSON object", code="invalid_evalset", source=str(p))
        if "source" not in row and "sources" in row:
            row["source"] = row["sources"]
        try:
            q = EvalQuestion(**{k: row[k] for k in EvalQuestion.model_fields if k in row})
        except ValidationError as e:
            err = e.errors()[0]
            field = ".".join(str(x) for x in err["loc"]) or "line"
            raise InputError(f"{p} line {n}: {field} {err['msg'].lower()}", code="invalid_evalset", source=str(p)) from e
        if q.id in seen:
            raise InputError(f"{p} line {n}: duplicate id {q.id!r} (first on line {seen[q.id]})", code="invalid_evalset", source=str(p))
        seen[q.id] = n
        questions.append(q)
    if not questions:
        raise InputError(f"{p}: the eval set has no questions", code="invalid_evalset", source=str(p))
    return questions
