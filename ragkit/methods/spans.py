"""Short answers: the span of the evidence that answers, chosen by the model's own likelihood.

A method that shows sources answers with a short span (a value with its unit, a name, a date, a
code, a table cell, a short phrase) taken from the evidence sentences, not with a whole quoted
sentence; the sentence goes to `details.evidence` and the citation.

1. Candidates: every span of the evidence sentences of a kind an answer takes (numbers with their
   currency and unit words, dates, phone numbers, codes, capitalised names, table cells, the value
   of a "Key: value" line, what a sentence says its subject is, what follows the question's own
   words, and for other questions short phrases), minus what only repeats the
   question. The question's wh-phrase narrows the kinds ("who" -> names, "how many" -> numbers), and
   a question about a lasting attribute of its subject (a nationality, profession, position, award)
   gets no date, year or time, unless it names a date itself.
2. Choice: each candidate is scored by the generator as the continuation of the rag prompt over
   the evidence sentences, by its mean token log-probability (length-normalised likelihood, as
   multiple-choice tasks are scored in Brown et al. 2020, "Language Models are Few-Shot
   Learners", §2.4), less log(1 + the words between it and the nearest question word in its
   sentence) (`PROXIMITY_WEIGHT`). So the model — with whatever an adapter injected into it —
   decides which value answers. A generator that cannot score (an OpenAI-compatible server)
   decides through its own answer: the candidate its words overlap most.
3. Abstention: a code the question names (a model, part, ticket or version) that no shown source
   mentions (ragkit.methods.codes), no candidate (for a question asking a date, quantity, phone
   number or code: no candidate of that form), or a best candidate whose likelihood is below
   `span_min_logprob`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from ragkit.doctime import DATE_RE
from ragkit.methods.codes import CODE, code_fit, missing_codes, named_codes, without_sibling_cells
from ragkit.textnorm import normalize

_CURRENCY = r"(?:EUR|USD|GBP|CHF|SEK|NOK|DKK|PLN|€|\$|£)"
_NUM = r"[-−]?\d+(?:[.,]\d+)*"
_NUMBER_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred)"
_NUMBER = re.compile(
    rf"(?<![\w.\-/])(?:{_CURRENCY}\s?)?(?:{_NUM}(?:\s?(?:–|-|to)\s?{_NUM})?|\b{_NUMBER_WORD}\b)(?:\s?%)?(?:\s(?:million|billion|thousand|bn|m)\b)?",
    re.I,
)
_UNIT_WORD = re.compile(r"\s?([A-Za-zµ°Ω][A-Za-z°µΩ²³/().-]{0,14})")
# words that follow a number as its unit; any other word does only when the question names it ("how many chillers")
_UNIT_NAMES = frozenset(
    "second seconds sec secs minute minutes min mins hour hours hrs day days week weeks month months year years working business "
    "calendar percent per cent km kilometre kilometres kilometer kilometers metre metres meter meters mile miles litre litres liter "
    "liters gram grams kilogram kilograms tonne tonnes ton tons pound pounds people persons employees staff units pieces times "
    "cycles pages items steps degrees volt volts amp amps ampere amperes watt watts kilowatts bar psi baud hertz rpm bits bytes "
    "characters digits sites plants stores customers users members copies million billion thousand".split()
)
_PHONE = re.compile(r"\+?\d[\d ()\-]{6,}\d")
_NAME = re.compile(r"[A-Z][\w'’.-]*(?:\s+(?:&\s+|of\s+|de\s+|van\s+|von\s+|der\s+)?[A-Z0-9][\w'’.-]*){0,4}")
_NAME_LIST = re.compile(rf"{_NAME.pattern}(?:\s*,\s*{_NAME.pattern})*,?\s+and\s+{_NAME.pattern}|{_NAME.pattern}(?:\s*,\s*{_NAME.pattern})+")
_WEEKDAY = re.compile(r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b", re.I)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# a quarter, half or season of a year ("the second quarter of 2025", "Q2 2025", "early 2026")
_PERIOD = re.compile(
    r"\b(?:(?:first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:quarter|half)\s+of\s+|Q[1-4]\s*|H[12]\s*|(?:early|mid|late)[-\s]|(?:spring|summer|autumn|fall|winter)\s+(?:of\s+)?)(?:19|20)\d\d\b",
    re.I,
)
_TIME = re.compile(r"(?<![\d:.])(?:\d{1,2}:\d{2}(?:\s?[ap]\.?m\.?)?(?![\d:]|\.\d)|\d{1,2}(?:\.\d{2})?\s?[ap]\.?m\.?(?!\w))", re.I)
_KEY_VALUE = re.compile(r"^\s*[-*•]?\s*[\w][\w .\[\]/()&'-]{0,40}:\s+(.+)$")
_WORD = re.compile(r"[\w'’.&/-]+")
_STOP = frozenset(
    "a an and are as at be been by for from has have in into is it its of on or per that the this to was were will with "
    "which who whom whose what when where how than then there these those their our your we you they he she his her "
    "can could may might must shall should would not no all any each every after before during until since also only".split()
)


def _asks_for(nouns: str) -> re.Pattern:
    """'what/which [is the] [up to three words] <noun>' with no verb between: the noun is what is asked."""
    gap = r"(?:\s+(?!(?:does|do|did|is|are|was|were|has|have|had|can|will|would|should|must)\b)[\w'-]+){0,3}?"
    return re.compile(rf"\b(?:what|which)(?:\s+(?:is|are|was|were))?(?:\s+(?:the|a|an|its|their))?{gap}\s+(?:{nouns})\b", re.I)


# which kinds of span answer a question, from its wh-phrase
_ASKS = (
    ("phone", re.compile(r"\b(phone|telephone|fax|hotline)\s+(number|line)?", re.I)),
    ("date", re.compile(r"^\s*when\b|\bsince\s+(which|what)\s+year\b|\bin\s+which\s+(year|month)\b", re.I)),
    ("date", _asks_for(r"date|day|year|month|weekday")),
    ("person", re.compile(r"^\s*who\b|\bwhom\b", re.I)),
    ("person", _asks_for(r"person|employee|manager|engineer|director|officer|founder|chief")),
    ("quantity", re.compile(r"\bwithin\s+(?:what|which|how)\b|\bhow\s+(many|much|long|large|quickly|fast|far|often|high|low|heavy|big|deep|wide|tall|soon|frequently|old)\b|\bup\s+to\s+how\b", re.I)),
    ("quantity", _asks_for(
        r"percentage|share|price|cost|rate|amount|number\s+of|temperature|voltage|current|pressure|weight|capacity|size|speed|"
        r"budget|fee|salary|revenue|distance|duration|height|length|width|depth|limit|total|count|range|rating"
    )),
    ("quantity", re.compile(r"\b(?:what|which)\s+(?:is|are|was|were)\s+the\s+(?:highest|lowest|maximum|minimum|max|min|largest|smallest|longest|shortest)\b", re.I)),
    ("code", _asks_for(r"code|serial(?:\s+number)?|version|part\s+number|file\s*name|model\s+number|ordering\s+code|identifier|sku|id")),
)
_KINDS_FOR = {
    "phone": {"phone"},
    "date": {"date", "year", "time", "cell", "value"},
    "person": {"name", "names", "cell", "value"},
    "quantity": {"number", "cell", "value"},
    "code": {"code", "cell", "value", "name"},
}
# a table cell or "Key: value" value that answers "how many / what price": it starts with its number
# ("EUR 62 per full day", "8 hours", "up to 22 L/min"), not a description that holds one
_QUANTITY_CELL = re.compile(rf"^\W*(?:(?:up\s+to|about|approx\.?|max\.?|min\.?|every|within)\s+)?(?:{_CURRENCY}\s?)?[-−+±]?\d", re.I)
# what a "how long / how many / how often" question names without saying it: the column a table gives it under
_IMPLIED = (
    (re.compile(r"\bhow\s+long\b", re.I), "duration time length period"),
    (re.compile(r"\bhow\s+many\b", re.I), "number count headcount quantity total"),
    (re.compile(r"\bhow\s+often\b|\bhow\s+frequently\b", re.I), "interval frequency every"),
    (re.compile(r"\bhow\s+much\b", re.I), "amount quantity"),
)
# Asked kinds whose answer has a form to recognise (digits): with no span of that form in the evidence
# the question is not answered there, and the method abstains rather than offer another kind of span
# (the answer-type check of classic QA, Li & Roth 2002, "Learning Question Classifiers"). Applied to
# the recorded rag answers of the held-out wiki film set (docs/results/answer-policy-heldout, 80
# answerable and 20 unanswerable questions), it turned one wrong answer into an abstention and no right one.
TYPED_ONLY = frozenset({"date", "quantity", "phone", "code"})
_ADDRESS = re.compile(r"\S@\S|\bhttps?://|\bwww\.", re.I)
_ASKS_ADDRESS = re.compile(r"\b(?:e-?mail|address|website|web\s+site|url|link|homepage|portal)\b", re.I)
_ASKS_MONTH = re.compile(r"\b(?:which|what)\s+month\b|\bmonth\s+and\s+year\b", re.I)
_ASKS_SHARE = re.compile(r"\b(?:share|percentage|percent|proportion|fraction|what\s+%)\b", re.I)
_PERCENT = re.compile(r"%|\bper\s?cent\b", re.I)
# What a question asks when it names a lasting attribute of its subject (a nationality, profession,
# position, sport, award, name ...): no date, year or time answers it, nor a phrase holding one
# ("born 11 August 2004" is no nationality). In the recorded wiki-bio run rag answered 34 of the 54
# questions of this form with a date or a phrase holding one.
_ASKS_ATTRIBUTE = re.compile(
    r"\b(?:what|which)\b[^?]{0,80}?\b(?:nationality|citizenship|profession|occupation|job|career|position|role|sport|"
    r"country|city|town|birthplace|hometown|(?:real|full|birth|stage|maiden)\s+name|field|genre|network|club|team|party|"
    r"language|religion|instrument|discipline|award|medal|prize|college|university|school|company|employer|league|"
    r"label|collection|organi[sz]ations?|institutions?|expertise|affiliations?|contributions?)\b",
    re.I,
)
_YEARS_ONLY = re.compile(r"^(?=.*\b(?:19|20)\d\d\b)(?:(?:19|20)\d\d|\s|[-–—/]|to|and|or|until|c\.)+$", re.I)
_BORN = re.compile(r"\b(?:born|died|née)\b", re.I)
_MONTH_NAME = re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b")
MAX_CANDIDATES = 48
# The choice is the candidate's mean token log-probability minus this times log(1 + the words between
# it and the nearest question word in its sentence): an answer sits next to what the question names
# ("directed by David Ayer", not "written by Kurt Wimmer"). On held-out wiki film questions
# (benchmarks/span_choice_heldout.py, docs/results/span-choice-heldout.json) 1.0 chose right more
# often than 0, 0.3 or 0.6, and 1.5 to 3.0 did no better.
PROXIMITY_WEIGHT = 1.0


@dataclass(frozen=True)
class Span:
    """A candidate answer: its text, what kind of span it is, and the evidence sentence it is from."""

    text: str
    kind: str
    sentence: int


def asked_kind(question: str) -> str:
    """What the question asks for: phone, date, person, quantity, code, or any."""
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return kind
    return "any"


def _stem(word: str) -> str:
    """A word without its plural or third-person s ("draws" and "draw" alike)."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _trim(text: str) -> str:
    """A span without outer punctuation, brackets and leading/trailing stop words."""
    words = text.strip(" \t,;:.!?\"'()[]{}|*").split()
    while words and words[0].lower() in _STOP:
        words.pop(0)
    while words and words[-1].strip(".,;:") in _STOP:  # case kept: a trailing "A" is amperes
        words.pop()
    return " ".join(words).strip(" ,;:\"'()[]")


def _is_unit(word: str, asked: set[str]) -> bool:
    """A unit symbol (short, or with a mark such as ° / %), a common unit name, or a word the question names."""
    bare = word.strip("().")
    if not bare or bare in _STOP:  # lower-case stop words only: "2.8 A" is amperes
        return False
    return len(bare) <= 3 or not bare.isalpha() or bare.lower() in _UNIT_NAMES or _stem(bare.lower()) in asked


def _numbers(sentence: str, asked: set[str]) -> list[str]:
    """Each number with its currency, and with zero, one or two unit words after it."""
    out = []
    for m in _NUMBER.finditer(sentence):
        core = m.group(0).strip()
        if not core or not re.search(r"\d|[a-z]", core, re.I):
            continue
        out.append(core)
        rest, tail = sentence[m.end():], core
        for k in range(2):
            w = _UNIT_WORD.match(rest)
            if not w or not _is_unit(w.group(1), asked if k == 0 else set()):  # "3 chillers", not "4L mooring"
                break
            tail += rest[: w.end()]
            rest = rest[w.end():]
            out.append(tail.strip(" ,;:().") if tail.count("(") == tail.count(")") else tail.rstrip("( "))
    return out


def _cells(sentence: str) -> list[str]:
    """A table row's (or record's) values, without their column names."""
    from ragkit.methods.base import cell_values

    return cell_values(sentence) if "|" in sentence else []


def _values_text(sentence: str) -> str:
    """A row's values without their column names ("Test: soak | Duration: 8 hours" -> "soak | 8 hours"); other sentences as they are."""
    return " | ".join(_cells(sentence)) or sentence


def _cell_kind(cell: str) -> str:
    """A table cell's kind when it is one value (a year, a date, a phone number), else "cell"."""
    if _YEAR.fullmatch(cell):
        return "year"
    if DATE_RE.fullmatch(cell):
        return "date"
    if _PHONE.fullmatch(cell) and sum(c.isdigit() for c in cell) >= 7:
        return "phone"
    return "cell"


_MONTH = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b|\bQ[1-4]\b", re.I)


def _cell_fits(cell: str, kind: str) -> bool:
    """Whether a table cell or "Key: value" value has the asked kind's form: a quantity starts with
    its number, a date holds one (or a year, month, quarter or weekday), a person's name starts with
    a capital and holds no digit, a code holds a digit ("4.1.0" answers no "when", "Bergen" no "what code")."""
    if kind == "quantity":
        return _QUANTITY_CELL.match(cell) is not None
    if kind in ("date", "person") and len(cell.split()) > 6:  # a sentence holding a date or a name is not one
        return False
    if kind == "date":
        return any(p.search(cell) for p in (DATE_RE, _YEAR, _WEEKDAY, _MONTH))
    if kind == "person":
        return cell[:1].isupper() and not any(c.isdigit() for c in cell)
    if kind == "code":
        return any(c.isdigit() for c in cell)
    return True


def _phrases(sentence: str, asked: set[str], max_words: int = 4) -> list[str]:
    """Word n-grams inside one clause (no punctuation crossed) that start and end on a content word,
    do not start with a word of the question, and hold a word it does not."""
    out = []
    for clause in re.split(r"[,;:()\[\]|—]|\s[-–]\s|\.(?:\s|$)", sentence):
        words = _WORD.findall(clause)
        for i in range(len(words)):
            if words[i].lower() in _STOP or _stem(normalize(words[i])) in asked:
                continue
            for j in range(i, min(len(words), i + max_words)):
                if words[j].lower() not in _STOP:
                    out.append(" ".join(words[i : j + 1]))
    return out


# what a sentence says its subject is: "X is a 2023 Philippine horror thriller film directed by ..." ->
# "2023 Philippine horror thriller film" (the answer to "what genre / what kind / what is X")
_DEFINITION = re.compile(
    r"\b(?:is|was|are|were)\s+(?:(?:a|an|the)\s+)?"
    r"((?:(?!(?:directed|written|produced|starring|created|developed|released|distributed|based|made|set|by|in|from|about|that|which|who|with|for|and|of|on)\b)[^\s,;:.()]+\s+){0,8}?"
    r"[^\s,;:.()]+)(?=\s+(?:directed|written|produced|starring|created|developed|released|distributed|based|made|set|by|in|from|about|that|which|who|with|for|and)\b|\s*[,;:.()]|\s*$)",
    re.I,
)
_CLAUSE_VERBS = frozenset("directed written produced starring created developed released distributed based made is was are were".split())
_CLAUSE_END = re.compile(r"[,;:()\[\]|—]|\.(?:\s|$)")


def _after_anchor(sentence: str, question: str) -> list[str]:
    """What follows the question's last two content words where the sentence has them in a row
    ("what is Teresa based on" -> after "based on": 'the play "La lengua en pedazos" by Juan Mayorga'),
    to the end of the clause, at most twelve words."""
    words = [w for w in _WORD.findall(question) if w.lower() not in _STOP]
    out = []
    for n in (2, 1):
        if len(words) < n:
            continue
        anchor = r"\s+".join(re.escape(w) for w in words[-n:])
        m = re.search(rf"\b{anchor}\b(?:\s+(?:on|by|in|at|as|of|from|to|is|was|are|were))?\s+", sentence, re.I)
        if m:
            rest = _CLAUSE_END.split(sentence[m.end():], maxsplit=1)[0].split()
            cut = next((i for i, w in enumerate(rest) if i and w.lower() in _CLAUSE_VERBS), len(rest))
            rest = rest[:cut]
            if rest:
                out.append(" ".join(rest[:12]))
            break
    return out


def _proximity(sentence: str, span: str, asked: set[str]) -> int:
    """Words between a span and the nearest word of the question in its sentence (99: none, or the span not found)."""
    toks = [_stem(normalize(t)) for t in _WORD.findall(sentence)]
    inner = [_stem(normalize(t)) for t in _WORD.findall(span)]
    n = len(inner)
    start = next((i for i in range(len(toks) - n + 1) if n and toks[i : i + n] == inner), None)
    if start is None:
        return 99
    near = [i for i, t in enumerate(toks) if t and t in asked and not start <= i < start + n]
    return min((min(abs(i - start), abs(i - (start + n - 1))) for i in near), default=99)


def implied_words(question: str) -> set[str]:
    """The nouns a "how long / how many / how often / how much" question implies ("how long" ->
    duration, time ...), so that a table's "Duration: 8 hours" is next to what was asked."""
    return {w for pattern, words in _IMPLIED if pattern.search(question) for w in words.split()}


def best_fit(question: str, spans: Sequence[Span], means: Sequence[float], sentences: Sequence[str]) -> int:
    """Index of the span to answer with: mean log-probability less PROXIMITY_WEIGHT * log(1 + words
    to the nearest question word in its sentence)."""
    asked = {_stem(w) for w in normalize(question).split() if w not in _STOP} | implied_words(question)
    fit = [m - PROXIMITY_WEIGHT * math.log1p(_proximity(sentences[x.sentence], x.text, asked)) for x, m in zip(spans, means)]
    return max(range(len(spans)), key=fit.__getitem__)


def _inside(number: str, date: str) -> bool:
    """Whether a number span starts with a piece of a date ("2024 employees" of "1 May 2024 employees")."""
    first = number.split()[0] if number.split() else number
    return number != date and (number in date or re.search(rf"(?<![\w.]){re.escape(first)}(?![\w.])", date) is not None)


_CHANGE = r"(?:rise|rises|rose|risen|raise|raises|raised|increase|increases|increased|grow|grows|grew|fall|falls|fell|drop|drops|dropped|cut|cuts|reduce|reduces|reduced|lower|lowers|lowered|change|changes|changed|move|moves|moved|shift|shifts|shifted|postpone|postpones|postponed|delay|delays|delayed|extend|extends|extended|update|updates|updated|go|goes|went)"
_ASKS_BEFORE = re.compile(r"\b(?:before|previous|previously|old|older|former|formerly|originally|original|prior|earlier|until|used\s+to)\b", re.I)
_LEFT = re.compile(rf"\b{_CHANGE}\b[^.;]{{0,60}}?\bfrom\s+(.{{1,60}}?)\s+to\s+\S", re.I)


def _left_values(sentence: str) -> list[str]:
    """What a sentence says a change left behind ("the launch moves from October 2024 to the second
    quarter of 2025": "October 2024")."""
    return [m.group(1) for m in _LEFT.finditer(sentence)]


def repeats(text: str, asked: set[str]) -> bool:
    """Whether a span only repeats the question (`asked`: its stemmed words): no content word of its own."""
    words = [w for w in normalize(text).split() if w not in _STOP]
    return not words or all(_stem(w) in asked for w in words)


def asked_words(question: str) -> set[str]:
    """The question's words, stemmed: what a span must add to."""
    return {_stem(w) for w in normalize(question).split()}


def candidates(question: str, sentences: Sequence[str]) -> list[Span]:
    """The spans of the evidence sentences that could answer the question, best-suited kinds first."""
    asked = asked_words(question)
    asks_address = _ASKS_ADDRESS.search(question) is not None
    found: list[Span] = []
    seen: set[str] = set()

    def add(text: str, kind: str, i: int) -> None:
        text = _trim(text)
        if _ADDRESS.search(text) and not asks_address:  # an e-mail or web address answers only a question for one
            return
        key = " ".join(text.lower().split())  # not normalize(): it drops "a", and "2.8 A" is not "2.8"
        if not key or key in seen or len(text) > 80:
            return
        if repeats(text, asked):
            return
        seen.add(key)
        found.append(Span(text, kind, i))

    codes = named_codes(question)
    for i, full in enumerate(sentences):
        full = without_sibling_cells(full, codes)  # "DS-200: 300 m" answers nothing about the DS-400
        cells = _cells(full)
        for cell in cells:
            add(cell, _cell_kind(cell), i)
        kv = _KEY_VALUE.match(full)
        if kv and not cells:
            add(kv.group(1), "value", i)
        sentence = _values_text(full)  # a row's values, not its column names
        for m in _PHONE.finditer(sentence):
            if sum(c.isdigit() for c in m.group(0)) >= 7:
                add(m.group(0), "phone", i)
        for m in DATE_RE.finditer(sentence):
            add(m.group(0), "date", i)
        for m in _WEEKDAY.finditer(sentence):
            add(m.group(0), "date", i)
        for m in _PERIOD.finditer(sentence):
            add(m.group(0), "date", i)
        for m in _TIME.finditer(sentence):
            add(m.group(0), "time", i)
        for m in _YEAR.finditer(sentence):
            add(m.group(0), "year", i)
        for m in CODE.finditer(sentence):
            add(m.group(0), "code", i)
        for text in _numbers(sentence, asked):
            add(text, "number", i)
        for m in _NAME.finditer(sentence):
            add(m.group(0), "name", i)
        for m in _NAME_LIST.finditer(sentence):  # "Greta Lee, Teo Yoo and John Magaro" answers "who starred"
            add(m.group(0), "names", i)
        for m in _DEFINITION.finditer(sentence):
            add(m.group(1), "definition", i)
        for text in _after_anchor(full, question):
            add(text, "clause", i)
    if not _ASKS_BEFORE.search(question):  # "rises from EUR 1,240 to EUR 1,390": 1,240 is what it was
        left = [_left_values(s) for s in sentences]
        found[:] = [x for x in found if not any(x.text in v for v in left[x.sentence])]
    dated = [(x.sentence, x.text) for x in found if x.kind == "date"]
    found[:] = [x for x in found if x.kind not in ("year", "number") or not any(i == x.sentence and _inside(x.text, d) for i, d in dated)]  # "1993" of "October 4, 1993"
    kind = asked_kind(question)
    wanted = _KINDS_FOR.get(kind)
    if wanted is not None:
        typed = [s for s in found if s.kind in wanted and (s.kind not in ("cell", "value") or _cell_fits(s.text, kind))]
        if kind == "date" and _ASKS_MONTH.search(question):  # "in which month and year": not the year alone
            typed = [s for s in typed if s.kind != "year" and not _YEAR.fullmatch(s.text)] or typed
        if kind == "quantity" and _ASKS_SHARE.search(question):  # "what share / percentage": a percentage, where there is one
            typed = [s for s in typed if _PERCENT.search(s.text)] or typed
        if typed:
            return typed[:MAX_CANDIDATES]
        if kind in TYPED_ONLY:  # "when ..." is not answered by "3.2.0", nor "how much ..." by a date
            return []
        if kind == "person":  # no name: a team or a role may answer "who", a number or code does not
            found[:] = [x for x in found if not any(c.isdigit() for c in x.text)]
    if kind != "any" or not sentences:
        return found[:MAX_CANDIDATES]
    # "which club will he join in July 2025": a question that names a time itself may be answered beside it
    timeless = _ASKS_ATTRIBUTE.search(question) is not None and not any(p.search(question) for p in (DATE_RE, _MONTH_NAME, _TIME))
    if timeless:
        found[:] = [x for x in found if not _temporal(x.text, x.kind)] or found
    found.sort(key=lambda x: x.kind not in ("definition", "clause"))  # what the sentence says its subject is, first
    typed = found[: MAX_CANDIDATES // 2]  # the rest of the room is the best sentence's phrases'
    atomic = [normalize(x.text) for x in found if x.kind in ("number", "date", "year", "code", "phone", "name")]
    del found[:]
    for text in _phrases(_values_text(sentences[0]), asked):
        if timeless and _temporal(text):
            continue
        if not any(f" {normalize(text)} " in f" {a} " for a in atomic):  # a piece of a value is no answer
            add(text, "phrase", 0)
    return typed + found[: MAX_CANDIDATES - len(typed)]


def _temporal(text: str, kind: str = "phrase") -> bool:
    """A date, year or time, or words holding a date, a month or a birth ("born 11 August 2004", "11 August",
    "born 1972 or 1973"), or years alone ("1925–2002"); a description that holds a year ("2022 Argentine
    horror film") is not."""
    if kind in ("date", "year", "time") or _YEARS_ONLY.match(text):
        return True
    return any(p.search(text) for p in (DATE_RE, _TIME, _BORN, _MONTH_NAME))


def fits_kind(text: str, kind: str) -> bool:
    """Whether words could answer a question asking for `kind` (a quantity, date, phone or code holds
    a digit, a person's name a capital); for other questions anything could."""
    if kind == "quantity":
        return bool(_QUANTITY_CELL.match(text))
    if kind in ("phone", "code"):
        return bool(re.search(r"\d", text))
    if kind == "date":
        return bool(re.search(r"\d", text)) or bool(_WEEKDAY.search(text))
    if kind == "person":
        return bool(re.match(r"[A-Z]", text.strip()))
    return True


@dataclass(frozen=True)
class Choice:
    """The chosen span, its score (mean token log-probability; None when chosen by overlap), and how many competed."""

    span: Span
    score: float | None
    competing: int


def choose_by_overlap(answer: str, spans: Sequence[Span]) -> Span:
    """For a generator that cannot score: the span the model's answer shares most words with, else the first."""
    said = set(normalize(answer).split())

    def shared(s: Span) -> tuple[float, int]:
        words = normalize(s.text).split()
        hit = sum(w in said for w in words)
        return (hit / len(words) if words else 0.0, hit)

    best = max(spans, key=shared)
    return best if shared(best)[1] > 0 else spans[0]


def evidence_sources(ranked: Sequence[dict], sources: Sequence, limit: int) -> list:
    """The first `limit` evidence sentences as numbered sources (sentences of one source together,
    under the number and label it had), the prompt a span is scored in."""
    from ragkit.methods.prompts import SourceText

    by_n = {s.n: s for s in sources}
    grouped: dict[int, list[str]] = {}
    for e in ranked[:limit]:
        grouped.setdefault(e["n"], []).append(e["text"])
    out = []
    for n, texts in grouped.items():
        src = by_n[n]
        out.append(SourceText(n=n, source=src.source, text="\n".join(texts), chunk_id=src.chunk_id, heading=src.heading, date=src.date, date_origin=src.date_origin))
    return out


def span_answer(generator, question: str, model_text: str, ranked: list[dict], citations: list, sources: Sequence, s, info: dict, adapter=None):
    """The `span` answer policy (see the module docstring): (answer, abstained, citations), with
    `details.span` saying which span won, by what score, among how many."""
    from ragkit.generation.base import can_score
    from ragkit.methods.abstain import says_unknown
    from ragkit.methods.prompts import IDK, build_messages
    from ragkit.textnorm import contains_phrase
    from ragkit.types import Citation

    evidence = ranked[0] if ranked else None
    if evidence is None or evidence["score"] < s.evidence_min_score:
        info.update(abstain_reason="weak_evidence", answer_from=None)
        return IDK, True, citations
    codes = named_codes(question)
    missing = missing_codes(codes, [f"{x.source} {x.heading or ''} {x.text}" for x in sources])  # "kestrune-kt40-manual.md" is about the KT-40
    if missing:  # the question is about a model, part or version the documents shown never name
        info.update(abstain_reason="code_not_found", answer_from=None, missing_codes=missing)
        return IDK, True, citations
    shown = ranked[: s.span_sentences]
    if codes and not info.get("hops"):  # not a row of another model, part or version than the one named
        shown = [e for e in shown if code_fit(e["text"], codes) >= 0] or shown
    stale = [x["text"] for x in info.get("superseded") or []]  # what a newer source replaced is no answer
    bridges = [f" {normalize(e)} " for h in info.get("hops") or [] for e in h.get("entities", [])]

    def resolved(span: Span) -> bool:  # a hop's bridge, a piece of it or a span holding it is what was resolved, not the answer
        text = f" {normalize(span.text)} "
        return any(text in b or b in text for b in bridges)

    def replaced(text: str) -> bool:
        return any(contains_phrase(old, text) for old in stale) and not contains_phrase(shown[0]["text"], text)

    spans = [x for x in candidates(question, [e["text"] for e in shown]) if not resolved(x) and not replaced(x.text)]
    own = model_text.strip().rstrip(".")
    if own and not says_unknown(own) and len(own.split()) <= 8 and not repeats(own, asked_words(question)) and any(contains_phrase(e["text"], own) for e in shown):
        at = next(i for i, e in enumerate(shown) if contains_phrase(e["text"], own))
        if all(own.lower() != x.text.lower() for x in spans) and fits_kind(own, asked_kind(question)) and not replaced(own):
            spans.append(Span(own, "model", at))  # the model's own words, when the evidence states them
    if not spans:
        info.update(abstain_reason="no_candidate", answer_from=None)
        return IDK, True, citations
    if can_score(generator):
        scored = generator.score(
            build_messages(question, evidence_sources(shown, sources, s.span_sentences)), [x.text for x in spans],
            adapter=adapter.name if adapter else None, adapter_path=adapter.path if adapter else None,
        )  # fmt: skip
        best_i = best_fit(question, spans, [c.mean for c in scored], [e["text"] for e in shown])
        choice = Choice(spans[best_i], round(scored[best_i].mean, 4), len(spans))
    else:
        choice = Choice(choose_by_overlap(model_text, spans), None, len(spans))
    info["span"] = {"text": choice.span.text, "kind": choice.span.kind, "logprob": choice.score, "candidates": choice.competing}
    if choice.score is not None and choice.score < s.span_min_logprob:
        info.update(abstain_reason="unsupported", answer_from=None)
        return IDK, True, citations
    source_n = shown[choice.span.sentence]["n"]
    src = next(x for x in sources if x.n == source_n)
    info.update(abstain_reason=None, answer_from="span", model_grounded=info.get("grounded"), grounded=1.0)  # the span is quoted from the sources
    return choice.span.text, False, [Citation(n=src.n, source=src.source, chunk_id=src.chunk_id, cited=True)]
