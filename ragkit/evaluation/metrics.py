"""Answer metrics: pure functions of (response, question), aggregated by the eval runner."""

from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

from ragkit.evaluation.evalset import EvalQuestion
from ragkit.textnorm import contains_phrase, normalize, tokens


def exact_match(response: str, q: EvalQuestion) -> float:
    got = normalize(response)
    return float(any(got == normalize(a) for a in q.accepted))


def token_f1(response: str, q: EvalQuestion) -> float:
    """Token F1 against the answer and each alias; the best one counts."""
    got = tokens(response)
    best = 0.0
    for accepted in q.accepted:
        want = tokens(accepted)
        if not got or not want:
            best = max(best, float(got == want))
            continue
        common = sum((Counter(got) & Counter(want)).values())
        if common:
            p, r = common / len(got), common / len(want)
            best = max(best, 2 * p * r / (p + r))
    return best


def accuracy(response: str, q: EvalQuestion) -> float:
    """1 when the answer or an alias appears on token boundaries, or states the same day in another
    form ("19 December 1854" for "December 19, 1854"), and no `wrong` value does."""
    if any(contains_phrase(response, w) for w in q.wrong):
        return 0.0
    if any(contains_phrase(response, a) for a in q.accepted):
        return 1.0
    days = {d for a in q.accepted for d in _days(a)}
    return float(bool(days and days & set(_days(response))))


def _day(m: re.Match) -> str | None:
    """The ISO day a date match names; None for a month and year alone ("March 2021")."""
    from ragkit.doctime import date_of_match

    if not any(m.groupdict().get(g) for g in ("y1", "y2", "y3")):
        return None
    day = date_of_match(m)
    return day.isoformat() if day else None


def _days(text: str) -> list[str]:
    from ragkit.doctime import DATE_RE

    return [d for d in map(_day, DATE_RE.finditer(text)) if d]


def retrieval_rank(ranked_sources: Sequence[str], gold: Sequence[str]) -> int | None:
    """1-based rank of the first chunk from a gold source, or None."""
    wanted = set(gold)
    for i, s in enumerate(ranked_sources, 1):
        if s in wanted:
            return i
    return None


# --- strict accuracy: an answer that also offers a competing value for what was asked is wrong ---

_UNIT = r"(?:%|°C|°F|[A-Za-zµ€$£]{1,5}(?:/[A-Za-z]{1,5})?)"
_NUM = r"(?:\d{1,3}(?:[ ,]\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)*)"  # 2 260, 9,380, 0.36, 7.6
_VALUE = re.compile(
    rf"(?P<pre>(?:EUR|USD|GBP|€|\$|£)\s?)?(?<![\w.\-])(?P<num>{_NUM}(?:\s?[–\-]\s?{_NUM})?)(?![\w\-]*\d)(?:\s?(?P<unit>{_UNIT})\b)?"
)
_PHONE = re.compile(r"(?<![\w+])\+?\d{1,4}(?:[ \-]\d{2,4}){2,}(?![\w])")
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
_CODE = re.compile(r"\b(?=[A-Z0-9\-]*\d)(?=[A-Z0-9\-]*[A-Z])[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b")


def _shape(code: str) -> str:
    return re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", code))


def _values(text: str) -> list[tuple[str, str, int, int]]:
    """(kind, normalised value, start, end) of each value in `text`: dates, phone numbers, times,
    codes, years, numbers with their unit (a range is one value) and bare numbers by their number
    of digits. Numbers inside the earlier kinds are not numbers of their own."""
    from ragkit.doctime import DATE_RE

    taken: list[tuple[int, int]] = []
    out: list[tuple[str, str, int, int]] = []
    for kind, pattern in (("date", DATE_RE), ("phone", _PHONE), ("time", _TIME)):
        for m in pattern.finditer(text):
            if not any(a <= m.start() < b for a, b in taken):
                value = (_day(m) if kind == "date" else None) or normalize(m.group(0))  # one form per day
                out.append((kind, value, m.start(), m.end()))
                taken.append((m.start(), m.end()))
    for m in _CODE.finditer(text):
        if not any(a <= m.start() < b for a, b in taken):
            out.append((f"code:{_shape(m.group(0))}", m.group(0), m.start(), m.end()))
            taken.append((m.start(), m.end()))
    for m in _VALUE.finditer(text):
        if any(a <= m.start("num") < b for a, b in taken):
            continue
        unit = (m.group("unit") or m.group("pre") or "").strip().lower().replace("€", "eur").replace("$", "usd").replace("£", "gbp")
        num = re.sub(r"\s", "", m.group("num")).replace(",", "")
        if unit:
            kind = f"number:{unit}"
        elif re.fullmatch(r"(?:19|20)\d\d", num):
            kind = "year"  # a year is not a peer of a count or a price
        else:
            kind = f"number::{len(re.split(r'[.–-]', num)[0])}"  # bare numbers are peers at the same order of magnitude
        out.append((kind, num, m.start(), m.end()))
    return out


def _parenthetical(text: str, at: int) -> tuple[int, int] | None:
    """The span of the innermost parentheses around position `at`, or None."""
    depth, open_at = 0, None
    for i in range(at - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            if depth == 0:
                open_at = i
                break
            depth -= 1
    if open_at is None:
        return None
    close = text.find(")", at)
    return (open_at, close if close >= 0 else len(text))


def competing_values(response: str, q: EvalQuestion) -> list[str]:
    """Values in `response` of the same kind as the gold answer's (another number with its unit,
    another date, another code of its shape) that are neither the gold nor an alias, and are given
    as peers — not as context in parentheses beside it ("below 22.8 V (24 V systems)"); inside the
    same parentheses as the gold they are peers ("(10 July 1857 – 14 February 1945)")."""
    gold_values = [v for a in q.accepted for v in _values(a)]
    if not gold_values:
        return []
    kinds = {k for k, _, _, _ in gold_values}
    accepted = {v for _, v, _, _ in gold_values}

    def is_gold(value: str) -> bool:  # the gold itself, or a range with the gold at one end
        return value in accepted or bool(set(re.split(r"[–\-]", value)) & accepted)

    found = _values(response)
    gold_at = [start for kind, value, start, _ in found if kind in kinds and is_gold(value)]
    out = []
    for kind, value, start, _ in found:
        if kind not in kinds or is_gold(value):
            continue
        span = _parenthetical(response, start)
        if span is not None and not any(span[0] < g < span[1] for g in gold_at):
            continue  # context in parentheses beside the answer: "22.8 V (24 V systems)"
        out.append(value)
    return out


def strict_accuracy(response: str, q: EvalQuestion) -> float:
    """`accuracy`, and wrong when the answer also offers a competing value (`competing_values`) or a `wrong` one:
    "Mooring depth rating | 8–150 m | 8–200 m" does not answer "200 m"; "200 m" does."""
    if not accuracy(response, q):
        return 0.0
    return 0.0 if competing_values(response, q) else 1.0
