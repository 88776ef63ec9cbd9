"""Document time: when a document took effect, and where that date came from.

Private documents change, and an answer must follow the newer one. Every document gets an
effective date with its origin, found in this order:

1. `email_date`: an e-mail's `Date` header (a message is as of when it was sent);
2. `effective`: what the text says about when it applies ("effective from 1 April 2024",
   "valid from", "in force from", "applies to products delivered on or after", "since", "as of");
3. `updated`: "updated 20 May 2024", "last revised ...";
4. `issued`: "issued 6 February 2023", "released", "published", "Date: 14 March 2024",
   a revision or edition line ("Rev D, February 2024", "edition 3, September 2023");
5. `stated`: an unlabelled date in the first lines ("Quarterly review, 14 November 2024");
6. `source_name`: a date in the file name ("2024-05-20-price-update.eml", "policy-2024.md");
7. `file_mtime`: the file's modification time (set by the pipeline, the last resort).

Only the head of a document is searched for 1, 3 and 4 (where documents state their own dates);
a date further down is about something else. `supersedes` records an explicit "supersedes /
replaces <what>" line: it beats any date when two sources disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

HEAD_CHARS = 1500
STATED_CHARS = 300  # an unlabelled date this near the top is the document's own ("Quarterly review, 14 November 2024")

_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"], 1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"

# one date, in the forms documents use; named groups tell which
DATE = (
    rf"(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MONTH}),?\s+(?P<y1>(?:1[5-9]|20)\d\d)"
    rf"|(?P<m2>{_MONTH})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>(?:1[5-9]|20)\d\d)"
    rf"|(?P<y3>(?:1[5-9]|20)\d\d)-(?P<n3>\d{{1,2}})-(?P<d3>\d{{1,2}})"
    rf"|(?P<m4>{_MONTH})\s+(?P<y4>(?:1[5-9]|20)\d\d))"
)

_LABELS: tuple[tuple[str, str], ...] = (
    ("effective", r"\b(?:effective(?:\s+(?:from|as\s+of|on|date))?|valid\s+(?:from|as\s+of)|in\s+force\s+(?:from|as\s+of)|appl(?:y|ies)\s+(?:from|as\s+of|to\s+\w+(?:\s+\w+)?\s+(?:on\s+or\s+after|from|after))|applicable\s+from|as\s+of|since)\s*[:\-]?\s*"),
    ("updated", r"\b(?:(?:last\s+)?(?:updated|revised|reviewed|amended|modified))(?:\s+(?:on|in))?\s*[:\-]?\s*"),
    ("issued", r"\b(?:issued|released|published|dated|generated|issue\s+date|release\s+date|date)(?:\s+(?:on|in))?\s*[:\-]?\s*"),
    ("issued", r"\b(?:rev(?:ision)?\.?|edition|version|v)\s*[A-Z0-9][\w.]*\s*[,(\-–]\s*(?:issued\s+|dated\s+)?"),
)
_LABEL_RES = tuple((origin, re.compile(label + DATE, re.IGNORECASE)) for origin, label in _LABELS)
DATE_RE = re.compile(DATE, re.IGNORECASE)
_NAME_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)(?:[-_.](\d\d)(?:[-_.](\d\d))?)?(?!\d)")
_SUPERSEDES = re.compile(
    r"\b(?:supersedes|replaces|supersede|this\s+(?:version|revision|edition)\s+replaces)\s+(?:the\s+)?(?P<what>[^.\n;]{2,80})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DocumentTime:
    date: str  # ISO yyyy-mm-dd
    origin: str  # email_date | effective | updated | issued | stated | source_name | file_mtime
    supersedes: str | None = None

    def metadata(self) -> dict[str, str | int]:
        """Chunk metadata keys: `doc_date` (ISO), `doc_date_num` (yyyymmdd, for `--where` ranges), origin, supersedes."""
        out: dict[str, str | int] = {"doc_date": self.date, "doc_date_num": int(self.date.replace("-", "")), "doc_date_origin": self.origin}
        if self.supersedes:
            out["supersedes"] = self.supersedes
        return out


def _month(name: str) -> int:
    return _MONTHS[name.lower().rstrip(".")[:3]]


def date_of_match(m: re.Match) -> date | None:
    g = m.groupdict()
    try:
        if g.get("y1"):
            return date(int(g["y1"]), _month(g["m1"]), int(g["d1"]))
        if g.get("y2"):
            return date(int(g["y2"]), _month(g["m2"]), int(g["d2"]))
        if g.get("y3"):
            return date(int(g["y3"]), int(g["n3"]), int(g["d3"]))
        if g.get("y4"):
            return date(int(g["y4"]), _month(g["m4"]), 1)
    except (ValueError, KeyError):
        return None
    return None


def parse_date(text: str) -> date | None:
    """The first date written in `text`, or None."""
    m = DATE_RE.search(text)
    return date_of_match(m) if m else None


def _email_date(value: str | None) -> date | None:
    if not value:
        return None
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError):
        return parse_date(value)


def _name_date(source: str) -> date | None:
    name = source.rsplit("/", 1)[-1]
    for m in _NAME_DATE.finditer(name):
        y, mo, d = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
        try:
            return date(y, mo, d)
        except ValueError:
            continue
    return None


def document_time(text: str, source: str, metadata: dict | None = None) -> DocumentTime | None:
    """The document's effective date and its origin (see the module docstring); None when it states none."""
    head = text[:HEAD_CHARS]
    supersedes = None
    if m := _SUPERSEDES.search(head):
        supersedes = " ".join(m.group("what").split())
    found: dict[str, date] = {}
    for origin, pattern in _LABEL_RES:
        if origin in found:
            continue
        for m in pattern.finditer(head):
            d = date_of_match(m)
            if d is not None:
                found[origin] = d
                break
    mail = _email_date((metadata or {}).get("date"))
    stated = parse_date(head[:STATED_CHARS])
    order = (
        ("email_date", mail),  # a message is as of when it was sent; dates in its body are about other things
        ("effective", found.get("effective")),
        ("updated", found.get("updated")),
        ("issued", found.get("issued")),
        ("stated", stated),
        ("source_name", _name_date(source)),
    )
    for origin, d in order:
        if d is not None:
            return DocumentTime(d.isoformat(), origin, supersedes)
    return None


def from_mtime(mtime: float) -> DocumentTime:
    return DocumentTime(datetime.fromtimestamp(mtime, tz=timezone.utc).date().isoformat(), "file_mtime")


RECENCY_CUES = re.compile(r"\b(?:current(?:ly)?|now|today|latest|newest|present|in\s+force|still|these\s+days|as\s+of\s+now)\b", re.IGNORECASE)
