"""Text normalisation shared by abstention, groundedness and the eval metrics.

Lower case, no punctuation or articles, collapsed whitespace, thousands separators removed,
numbers split from units ("2.8A" -> "2.8 a"), and number words as digits ("two" -> "2").
"""

from __future__ import annotations

import re
import unicodedata

_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "hundred": "100", "thousand": "1000", "first": "1st", "second": "2nd", "third": "3rd",
}
_ARTICLES = {"a", "an", "the"}
_THOUSANDS = re.compile(r"(?<=\d)[,\u00a0\u202f ](?=\d{3}\b)")
_UNIT_SPLIT = re.compile(r"(?<=\d)(?=[^\d\s.,])|(?<=[^\d\s.,\-])(?=\d)")
_PUNCT = re.compile(r"[^\w\s.]|(?<!\d)\.|\.(?!\d)")


_CARDINALS = {w: d for w, d in _NUMBER_WORDS.items() if d.isdigit() and int(d) < 100}
_CARDINAL = re.compile(rf"\b(?:{'|'.join(_CARDINALS)})\b", re.IGNORECASE)


def with_digits(text: str) -> str:
    """Number words below a hundred as digits ("every six months" -> "every 6 months"), the rest as it is."""
    return _CARDINAL.sub(lambda m: _CARDINALS[m.group(0).lower()], text)


def normalize(text: str) -> str:
    """The canonical form answers and responses are compared in."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = text.replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    text = _THOUSANDS.sub("", text)
    text = _UNIT_SPLIT.sub(" ", text)
    text = _PUNCT.sub(" ", text)
    words = [_canonical_number(_NUMBER_WORDS.get(w, w)) for w in text.split()]
    return " ".join(w for w in words if w not in _ARTICLES)


_DECIMAL = re.compile(r"^\d+\.\d+$")


def _canonical_number(word: str) -> str:
    """2.80 -> 2.8, 3.0 -> 3: one spelling per number."""
    if _DECIMAL.match(word):
        word = word.rstrip("0").rstrip(".")
    return word


def tokens(text: str) -> list[str]:
    return normalize(text).split()


def contains_phrase(haystack: str, needle: str) -> bool:
    """Whether `needle` occurs in `haystack` on token boundaries, after normalisation."""
    n = normalize(needle)
    if not n:
        return False
    return f" {n} " in f" {normalize(haystack)} "


_STOP = frozenset(
    "is are was were be been of in on at to for and or by with from as it its this that these those what which who "
    "whom how when where why does do did has have had can could will would should may might must not no yes".split()
)


def grounded_fraction(answer: str, context: str) -> float | None:
    """Share of the answer's content tokens that occur in the context (None for an empty answer)."""
    words = [w for w in tokens(answer) if w not in _STOP]
    if not words:
        return None
    ctx = set(tokens(context))
    return sum(w in ctx for w in words) / len(words)
