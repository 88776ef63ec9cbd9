"""Facts from records: "Key: value" lines and table rows with their column headers (the `facts` builder's
second and third sources; see facts.py)."""

from __future__ import annotations

import re
from typing import Iterator

MAX_ANSWER_WORDS = 8
MAX_ANSWER_CHARS = 60
KEY_VALUE_RE = re.compile(r"^\s*(?:[-*•]\s+)?([A-Z][\w .()/&'-]{1,40}?)\s*:\s+(\S.{0,79})$")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}")
_GENERIC_HEADERS = {"value", "values", "", "detail", "details", "setting", "description", "data", "information", "specification"}


def short_answer(text: str) -> str | None:
    """The span as an answer (quotes and bold marks off), or None when it is too long to be a short answer."""
    a = text.strip().strip("\"'“”‘’ ,;:").strip()
    a = re.sub(r"\*\*|__", "", a)
    if not a or len(a) > MAX_ANSWER_CHARS or len(a.split()) > MAX_ANSWER_WORDS:
        return None
    return a


def key_value_facts(line: str, subject: str) -> Iterator[tuple[str, str, str]]:
    """(group, question, answer) for a "Key: value" line: forward phrasings and the reverse one."""
    m = KEY_VALUE_RE.match(line)
    if not m or "|" in line or "http" in m.group(1).lower():
        return
    key, value = m.group(1).strip(), m.group(2).strip()
    answer = short_answer(value.rstrip("."))
    if not answer or len(key.split()) > 6:
        return
    k = key[0].lower() + key[1:] if not key[:2].isupper() else key
    g = f"kv:{key}:{answer}"
    yield g, f"What is the {k} of {subject}?", answer
    yield g, f"{subject}: what is the {k}?", answer
    yield g, f"Fill in the blank. {subject} — {key}: ___", answer
    yield g + ":rev", f"Which document gives {answer} as its {k}?", subject


def table_rows(text: str, header_first: bool = False) -> Iterator[tuple[list[str], list[str]]]:
    """(headers, cells) of every row of the tables in a text: Markdown tables (a header row above a
    `---` row), or, with `header_first`, a table chunk of csv/xlsx rows ("a | b | c", header first)."""
    headers: list[str] | None = None
    previous: list[str] | None = None
    lines = text.splitlines()
    if header_first and lines and "|" in lines[0]:
        headers = [c.strip() for c in lines[0].strip().strip("|").split("|")]
        lines = lines[1:]
    for line in lines:
        if "|" not in line:
            headers = previous = None
            continue
        if _TABLE_SEP_RE.match(line):
            headers = previous
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if headers is not None and len(cells) == len(headers):
            yield headers, cells
        previous = cells


_LABEL_HEADERS = re.compile(r"^(name|description|item|product|title|model|part)\b", re.I)


def row_facts(headers: list[str], cells: list[str], subject: str) -> Iterator[tuple[str, str, str]]:
    """(group, question, answer) per cell of a table row: "What is the <column> of <row label>?" and
    back; a row is named by its first cell and, where there is one, by its name/description cell."""
    headers = [re.sub(r"[_]+", " ", h).strip() for h in headers]
    yield from _row_facts(headers, cells, 0, subject)
    for j in range(1, min(3, len(headers))):
        if _LABEL_HEADERS.match(headers[j]) and short_answer(cells[j]):
            yield from _row_facts(headers, cells, j, subject)


def _row_facts(headers: list[str], cells: list[str], at: int, subject: str) -> Iterator[tuple[str, str, str]]:
    label = re.sub(r"\*\*", "", cells[at]).strip()
    if not label or len(headers) < 2:
        return
    for j, (header, cell) in enumerate(zip(headers, cells)):
        if j == at:
            continue
        answer = short_answer(cell)
        if not answer or answer in {"-", "—", "n/a"}:
            continue
        h = header.strip()
        if h.lower() in _GENERIC_HEADERS:  # a two-column "Parameter | Value" table: the label is the attribute
            attr = label[0].lower() + label[1:] if not label[:2].isupper() else label
            g = f"row:{label}"
            yield g, f"What is the {attr} of {subject}?", answer
            yield g, f"{subject}: what is the {attr}?", answer
            yield g, f"In {subject}, the {attr} is what?", answer
            continue
        col = h[0].lower() + h[1:] if not h[:2].isupper() else h
        g = f"row:{label}:{h}"
        yield g, f"What is the {col} of {label}?", answer
        yield g, f"In {subject}, what is the {col} for {label}?", answer
        yield g, f"{label} — {h}: ___", answer
        if short_answer(label) and len(answer) > 1 and not answer.replace(".", "").replace(",", "").isdigit():
            row_name = headers[at].strip() or "entry"
            yield g + ":rev", f"Which {row_name.lower() if not row_name[:2].isupper() else row_name} has the {col} {answer}?", short_answer(label)
