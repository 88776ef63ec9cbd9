"""The codes a question names (model and part numbers, ticket ids, error codes, versions) and how
evidence mentions them.

A question that names a code asks about that one thing: "the DS-400", "firmware 4.0.0", "error
E12". Evidence that states the code is about it; evidence that states a sibling code instead
("DS-200", "4.1.0", "E19": the same shape, another value) is about something else, however alike
the words around it, and a sentence embedding cannot tell the two apart. Three uses:
- `code_fit` moves a sentence up or down in the evidence ranking (ragkit.methods.base), and a
  span answer takes no candidate from a shown row that states a sibling instead;
- `without_sibling_cells` drops the cells of a labelled table row that belong to a sibling
  ("Maximum depth | DS-200: 300 m | DS-400: 600 m" asked about the DS-400 keeps "600 m");
- `missing_codes` lists named codes that no shown source mentions: the question is about
  something the documents do not cover, and a method with sources abstains (`code_not_found`).
"""

from __future__ import annotations

import re
from functools import lru_cache

# letters and digits mixed ("DS-400", "E12", "VT-24117", "OV-12-T"), or a dotted version ("4.0.0";
# "3.3" after a version word)
CODE = re.compile(r"(?<![\w-])(?=[\w./-]*\d)(?=[\w./-]*[A-Za-z])[A-Za-z0-9]+(?:[-_./][A-Za-z0-9]+)*(?![\w-])|(?<![\w.])\d+(?:\.\d+){2,}(?![\w.])")
_SHORT_VERSION = re.compile(r"\b(?:firmware|version|release|software|update)\s+v?(\d+\.\d+)(?![\w.])", re.I)
_VERSION = re.compile(r"^v?(\d+(?:\.\d+)+)$", re.I)
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th|s)$", re.I)  # "21st", "1990s": not codes
_UNIT = re.compile(r"^\d+(?:[.,]\d+)?(?:[a-zµ°%]{1,3}|kwh|mah)$", re.I)  # "12V", "300m", "2kg": quantities


def named_codes(question: str) -> list[str]:
    """The codes in a question, in order, without repeats."""
    out: list[str] = []
    found = sorted([(m.start(), m.group(0)) for m in CODE.finditer(question)] + [(m.start(1), m.group(1)) for m in _SHORT_VERSION.finditer(question)])
    for _, code in found:
        code = code.strip("./-")
        if _ORDINAL.match(code) or _UNIT.match(code) or code.lower() in (c.lower() for c in out):
            continue
        out.append(code)
    return out


@lru_cache(maxsize=512)
def _pattern(code: str) -> re.Pattern:
    """A code as text may write it: any case, a hyphen, space or nothing between letter and digit
    runs ("KT-40", "KT40", "kt 40"); a version with or without a leading "v" and trailing ".0"s."""
    version = _VERSION.match(code)
    if version:
        core = re.escape(version.group(1))
        return re.compile(rf"(?<![A-Za-z0-9.])v?{core}(?:\.0)*(?![A-Za-z0-9]|\.\d)", re.I)
    runs = re.findall(r"[A-Za-z]+|\d+", code)  # an underscore separates too: "KT40_FW_3.2.0.bin" names the KT-40
    return re.compile(r"(?<![A-Za-z0-9])" + r"[-\s_./]?".join(re.escape(r) for r in runs) + r"(?![A-Za-z0-9]|[-./][A-Za-z0-9])", re.I)


def mentions(text: str, code: str) -> bool:
    return _pattern(code).search(text) is not None


def _shape(code: str) -> str:
    """A code's shape: versions are one family; otherwise the letters with each digit run as 9
    ("DS-200" and "DS-400": "ds-9")."""
    if _VERSION.match(code):
        return "version"
    return re.sub(r"\d+", "9", code.lower().replace(" ", "-"))


def siblings(a: str, b: str) -> bool:
    """Two different codes of one family: the same shape ("DS-200" / "DS-400", "E12" / "E19",
    "4.1.0" / "4.0.0"), or the same stem before a last part ("OV-12-T" / "OV-12-S")."""
    if a.lower() == b.lower():
        return False
    if _shape(a) == _shape(b):
        return True
    stem_a, _, last_a = a.lower().rpartition("-")
    stem_b, _, last_b = b.lower().rpartition("-")
    return bool(stem_a) and stem_a == stem_b and last_a != last_b


def code_fit(text: str, codes: list[str]) -> int:
    """-1 when a table row or record line is a sibling's (its first cell, the row's name, states a
    sibling of a named code and the line not the code: another model's row, another ticket; a
    sibling in a later cell is a value, "successor: TB-8"), else 1 when the text mentions a
    named code, else 0. A record's field line ("version: 4.0.0 | released: 2023-11-02") need not
    repeat every code of the question to be about it; prose that names a sibling is often about
    the named one still ("It was launched as the successor of the OV-10")."""
    if not codes:
        return 0
    found = named_codes(text.split("|", 1)[0]) if "|" in text else []  # the row's own name: its first cell
    if any(not mentions(text, code) and any(siblings(code, other) for other in found) for code in codes):
        return -1
    return 1 if any(mentions(text, code) for code in codes) else 0


def without_sibling_cells(sentence: str, codes: list[str]) -> str:
    """A labelled row without the cells whose column is a sibling of a named code."""
    if not codes or "|" not in sentence:
        return sentence
    cells = [c.strip() for c in sentence.strip().strip("|").split("|")]
    kept = []
    for cell in cells:
        label, sep, _ = cell.partition(": ")
        if sep and any(siblings(code, label.strip()) and not mentions(label, code) for code in codes if CODE.fullmatch(label.strip())):
            continue
        kept.append(cell)
    return " | ".join(kept) if len(kept) < len(cells) else sentence


def missing_codes(codes: list[str], texts: list[str]) -> list[str]:
    """The named codes none of the texts (the sources' text, file names and headings) mentions."""
    return [c for c in codes if not any(mentions(t, c) for t in texts)]
