"""What every method shares: the runtime it is prepared with and the one answer flow.

Each method only decides what the model sees (no context, chunks, whole documents) and with
which adapter; prompt, decoding, citation parsing and abstention are the same for all of them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ragkit.methods.abstain import AbstainPolicy, decide, says_unknown
from ragkit.methods.prompts import IDK, STOP, SourceText, build_messages, clean_answer, parse_citations
from ragkit.textnorm import grounded_fraction
from ragkit.types import Answer, AnswerDetails, Citation, Usage

if TYPE_CHECKING:
    from ragkit.generation.base import Generator
    from ragkit.knowledge_base import KnowledgeBase
    from ragkit.retrieval import HybridRetriever
    from ragkit.storage.collection_store import CollectionStore


@dataclass(frozen=True)
class AdapterRef:
    name: str
    path: Any  # pathlib.Path


@dataclass
class Runtime:
    """One collection's prepared parts, shared by the methods that run on it."""

    kb: "KnowledgeBase"
    collection: str
    adapter: AdapterRef | None = None
    _retriever: "HybridRetriever | None" = field(default=None, repr=False)

    @property
    def settings(self):
        return self.kb.settings

    @property
    def store(self) -> "CollectionStore":
        return self.kb.store(self.collection)

    @property
    def generator(self) -> "Generator":
        return self.kb.generator

    @property
    def retriever(self) -> "HybridRetriever":
        if self._retriever is None:
            from ragkit.retrieval import HybridRetriever

            self._retriever = HybridRetriever(self.store, self.kb.embedder_for(self.store.name), alpha=self.settings.hybrid_alpha, depth=self.settings.fusion_depth)
        return self._retriever

    @property
    def policy(self) -> AbstainPolicy:
        return AbstainPolicy(min_dense=self.settings.abstain_min_dense, min_grounded=self.settings.abstain_min_grounded)


class Method(Protocol):
    name: str
    needs_adapter: bool
    uses_retrieval: bool  # ranks chunks with the retriever (its hit@k and MRR are scored)

    def answer(self, question: str) -> Answer: ...


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[€$£])")
# list items, headings, quotes, table rows and "Key: value" lines (headers, records, settings) stand alone
_OWN_LINE = re.compile(r"^\s*(?:[-*•+]\s|\d{1,3}[.)]\s|#|>|[\w][\w .\[\]/()&'-]{0,40}:\s)|\|")


_RECORD_LINE = re.compile(r"^\s*[\w][\w .\[\]/()&'-]{0,40}:\s+\S")
_FRAGMENT = re.compile(r"^\s*[\w.\[\]]{1,40}\s*$")  # a record line cut where a chunk ends ("products[3].")


def _cells_of(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _is_rule(cells: list[str]) -> bool:
    """A markdown header rule ("--- | :---:")."""
    return all(c and set(c) <= set("-: ") for c in cells)


def _is_header(cells: list[str]) -> bool:
    """A first row that names its columns: every cell filled, none a bare number."""
    return all(c and not re.fullmatch(r"[-+−]?[\d.,\s%]+", c) for c in cells)


def _label(text: str) -> str:
    """A column or field name as words ("unit_price_eur: 42.80" -> "unit price eur: 42.80"); the value is left as it is."""
    label, sep, value = text.partition(": ")
    return f"{label.replace('_', ' ')}{sep}{value}" if sep else text.replace("_", " ")


def labelled_rows(rows: list[str]) -> list[str]:
    """A table's rows, each cell behind its column's name ("Site: Dunsholt | Headcount: 196"), so a
    row says what each value is; the header row itself is left out. A run of rows whose first row is
    no header comes back as it was."""
    table = [_cells_of(r) for r in rows]
    table = [t for t in table if not _is_rule(t)]
    header, body = table[0], table[1:]
    if not body or not _is_header(header) or any(len(r) != len(header) for r in body):
        return [r.strip() for r in rows if not _is_rule(_cells_of(r))]
    return [" | ".join(f"{_label(h)}: {c}" for h, c in zip(header, r) if c) for r in body]


_ITEM_PATH = re.compile(r"^\s*(.*?\[\d+\])[.\[]")  # "products[3].successor: OV-12" is a field of products[3]


def labelled_record(lines: list[str]) -> list[str]:
    """A record of "key: value" lines (a JSON line, a header block): each line after the first
    behind the first, the record's name ("ticket: VT-24117 | part replaced: VT-S-2045"), so a field
    says whose it is. Flattened JSON lists ("products[3].model: OV-10", "products[3].successor:
    OV-12") are one record per item."""
    out: list[str] = []
    item, first = None, ""
    lines = [line for line in lines if not _FRAGMENT.match(line)]
    for i, line in enumerate(lines):
        m = _ITEM_PATH.match(line)
        this = m.group(1) if m else None
        text = _label(line.strip())
        if i == 0 or (this is not None and item is not None and this != item):
            item, first = this, text
            out.append(text)
        elif item is None and this is not None:  # a chunk that starts inside an item: its first line names it
            item = this
            out.append(f"{first} | {text}")
        else:
            out.append(f"{first} | {text}")
    return out


def cell_values(sentence: str) -> list[str]:
    """The values of a table row or record sentence, without the column names `labelled_rows` and
    `labelled_record` put before them ("Headcount: 41" -> "41")."""
    out = []
    for cell in _cells_of(sentence):
        label, sep, value = cell.partition(": ")
        out.append(value.strip() if sep and label and len(label) <= 40 and value.strip() else cell)
    return [c for c in out if c and not set(c) <= set("-: ")]


def _wraps_on(line: str, following: str) -> bool:
    """A "Label: text" line that is the first line of a wrapped paragraph ("DECISION: From 1 May
    2024 employees ... may work remotely up to" + "three days per week."), not a record's field."""
    return (
        "|" not in line
        and len(line.strip()) >= 60
        and not re.search(r"[.!?:;]\s*$", line)
        and bool(following.strip())
        and not _OWN_LINE.search(following)
        and following.strip()[:1].islower()
    )


def sentences(text: str, labelled: bool = False) -> list[str]:
    """A source's sentences: wrapped lines of one paragraph joined, list items, headings and table
    rows kept whole, paragraphs split after . ! or ? before a capital or a number. `labelled`: a
    table's rows come with their column names and the fields of a "key: value" record with its
    first field (`labelled_rows`, `labelled_record`), so that a sentence read alone (evidence, a
    hop's bridge) still says what its value is and whose."""
    out: list[str] = []
    para: list[str] = []
    lines = text.splitlines()
    if labelled:  # a record line a chunk boundary cut in two ("products[3]." + "model: OV-10") made whole again
        for k in range(len(lines) - 1, 0, -1):
            if _FRAGMENT.match(lines[k - 1]) and lines[k - 1].rstrip().endswith((".", "]")) and _RECORD_LINE.match(lines[k]):
                lines[k - 1 : k + 1] = [lines[k - 1].strip() + lines[k].strip()]

    def flush():
        if para:
            out.extend(p.strip() for p in _SENTENCE_END.split(" ".join(para)) if p.strip())
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if labelled and "|" in line:  # a table: its run of rows
            j = i
            while j < len(lines) and "|" in lines[j]:
                j += 1
            flush()
            out.extend(labelled_rows(lines[i:j]))
            i = j
            continue
        if labelled and _RECORD_LINE.match(line) and (i == 0 or not lines[i - 1].strip()):  # a paragraph of "key: value" lines
            j = i
            while j < len(lines) and (_RECORD_LINE.match(lines[j]) or _FRAGMENT.match(lines[j])) and "|" not in lines[j]:
                j += 1
            if j - i >= 3 and (j == len(lines) or not lines[j].strip()):
                flush()
                out.extend(labelled_record(lines[i:j]))
                i = j
                continue
        if not line.strip():
            flush()
        elif _OWN_LINE.search(line) and not _wraps_on(line, lines[i + 1] if i + 1 < len(lines) else ""):
            flush()
            out.append(line.strip())
        else:
            para.append(line.strip())
        i += 1
    flush()
    return out


def evidence_lines(text: str) -> list[str]:
    """A passage's labelled sentences, less a record's first line standing alone where its field
    lines follow (each of them holds it already)."""
    lines = sentences(text, labelled=True)

    def head(i: int) -> bool:  # not a line cut from the item before ("built at: Dunsholt" + "products[5].model: TB-6")
        following = lines[i + 1] if i + 1 < len(lines) else ""
        return following.startswith(f"{lines[i]} | ") and ("[" in lines[i] or "[" not in following[len(lines[i]) + 3 :])

    return [x for i, x in enumerate(lines) if not head(i)]


# after a second hop, what a sentence naming the bridge entity ("VT-S-2045 | Flow sensor assembly") adds to its cosine
NAMED_BONUS = 0.2
# what a sentence naming a code the question names adds: a little, since prose goes on with "it";
# and what a table row or record line naming a sibling instead loses: much, since it is another
# thing's row ("version: 4.0.0 | released: 2023-11-02" for "firmware 4.0.0", not the 4.1.0 record)
CODE_BONUS = 0.05
SIBLING_PENALTY = 0.2


def rank_evidence(rt: Runtime, question: str, sources: list[SourceText], info: dict | None = None) -> list[dict]:
    """The sentences of the first three shown sources (the most relevant), closest to the question
    (MiniLM cosine; CODE_BONUS and SIBLING_PENALTY for the codes a one-hop question names) first;
    where a newer source says the same thing with other values, its sentence
    comes first (ragkit.methods.currency) and the sentences it supersedes are left out; after a
    second hop, sentences naming its bridge entity first (NAMED_BONUS) and none of the bridge
    document's others. What was passed over is recorded in `info` (`superseded`, `followed`)."""
    from ragkit.methods.codes import code_fit, named_codes
    from ragkit.methods.currency import Candidate, Dated, choose_current, content_words, values

    asked = content_words(question) | values(question)
    bridges = {h["bridge"] for h in (info or {}).get("hops") or [] if "bridge" in h}  # a first hop's sentence answers the first hop only
    candidates: list[tuple[str, SourceText]] = []
    for s in sources[:3]:
        for sentence in evidence_lines(s.text):
            if sentence in bridges:
                continue
            if len(sentence) >= 12 and not (content_words(sentence) | values(sentence)) <= asked:  # a sentence that only repeats the question answers nothing
                candidates.append((sentence, s))
    hops = (info or {}).get("hops") or []
    named = [re.compile(rf"(?<![\w-]){re.escape(e)}(?![\w-])", re.I) for h in hops for e in h.get("entities", [])]
    names = [any(n.search(text) for n in named) for text, _ in candidates]
    if any(names):  # the bridge document's other lines answer nothing
        bridge_source = hops[0].get("bridge_source")
        candidates, names = map(list, zip(*[(c, hit) for c, hit in zip(candidates, names) if hit or c[1].source != bridge_source]))
    if not candidates:
        return []
    candidates, names = candidates[:150], names[:150]
    emb = rt.kb.embedder
    q = emb.embed_query(question)
    m = emb.embed_documents([c[0] for c in candidates])
    codes = [] if hops else named_codes(question)  # after two hops the named code was the first hop's, and the answer's row is another
    fits = [code_fit(text, codes) for text, _ in candidates]
    scores = m @ q + [NAMED_BONUS * hit + (CODE_BONUS if fit > 0 else SIBLING_PENALTY) * fit for hit, fit in zip(names, fits)]  # a second hop's answer is about the bridge entity
    pool = [Candidate(text, float(score), src.source, src.n, Dated(src.date, src.date_origin, src.supersedes)) for (text, src), score in zip(candidates, scores)]
    chosen, older, reason = choose_current(pool, question)
    if info is not None and older:
        info["followed"] = {"source": chosen.source, "date": chosen.when.date, "reason": reason}
        info["superseded"] = [{"text": c.text, "source": c.source, "date": c.when.date} for c in older]
    rest = sorted((c for c in pool if c is not chosen and all(c is not o for o in older)), key=lambda c: -c.score)
    return [{"text": c.text, "n": c.n, "source": c.source, "score": round(c.score, 4)} for c in [chosen, *rest]]


def best_evidence(rt: Runtime, question: str, sources: list[SourceText], info: dict | None = None) -> dict | None:
    """The sentence an answer rests on: the first of `rank_evidence`."""
    ranked = rank_evidence(rt, question, sources, info)
    return ranked[0] if ranked else None


def evidence_answer(text: str, evidence: dict | None, citations: list[Citation], sources: list[SourceText], s, info: dict) -> tuple[str, bool, list[Citation]]:
    """The `evidence` answer policy: the model's words when they come from the best-matching source sentence, else that sentence.

    A 135M model often answers with words from the wrong part of its sources, while the sentence
    that best matches the question usually holds the answer (replayed on the example set and on
    wiki-newpages bio: see docs/benchmarks.md). No sentence that matches well means abstain.
    """
    if evidence is None or evidence["score"] < s.evidence_min_score:
        info.update(abstain_reason="weak_evidence", answer_from=None)
        return IDK, True, citations
    from ragkit.methods.currency import values

    agreement = grounded_fraction(text, evidence["text"])  # None: the answer has no content word to check
    foreign = values(text) - values(evidence["text"])  # a number the sentence does not state (another source's, or made up)
    if text.strip() and not says_unknown(text) and agreement is not None and agreement >= s.evidence_min_agreement and not foreign:
        info.update(abstain_reason=None, answer_from="model")
        return text, False, citations
    src = next(x for x in sources if x.n == evidence["n"])
    info.update(abstain_reason=None, answer_from="evidence", model_grounded=info.get("grounded"), grounded=1.0)  # the sentence is quoted from the sources
    return evidence["text"], False, [Citation(n=src.n, source=src.source, chunk_id=src.chunk_id, cited=True)]


def generate_answer(
    rt: Runtime,
    method: str,
    question: str,
    sources: list[SourceText] | None,
    *,
    adapter: AdapterRef | None = None,
    top_dense: float | None = None,
    details: dict | None = None,
    started: float | None = None,
    evidence_query: str | None = None,
) -> Answer:
    """Prompt, generate, trim, parse citations, decide abstention: the same for every method.
    `evidence_query`: what the evidence sentence is matched against (a second hop's query), else the question."""
    started = time.perf_counter() if started is None else started
    s = rt.settings
    messages = build_messages(question, sources)
    completion = rt.generator.generate(
        messages,
        max_tokens=s.max_tokens,
        temperature=s.temperature,
        stop=STOP,
        adapter=adapter.name if adapter else None,
        adapter_path=adapter.path if adapter else None,
    )
    raw = completion.text
    text, cited = parse_citations(clean_answer(raw), len(sources or []))
    context = "\n".join(src.text for src in sources) if sources is not None else None
    decision = decide(text, context=context, top_dense=top_dense, policy=rt.policy)
    citations: list[Citation] = []
    if sources:
        by_n = {src.n: src for src in sources}
        if cited:
            citations = [Citation(n=n, source=by_n[n].source, chunk_id=by_n[n].chunk_id, cited=True) for n in cited]
        else:
            citations = [Citation(n=src.n, source=src.source, chunk_id=src.chunk_id, cited=False) for src in sources]
    info = dict(details or {})
    info.update(model_answer=raw, abstain_reason=decision.reason, grounded=decision.grounded, finish_reason=completion.finish_reason)
    answer, abstained = (IDK if decision.abstained and decision.reason != "said_so" else (text or IDK)), decision.abstained
    if sources:
        ranked = rank_evidence(rt, evidence_query or question, sources, info)
        info["evidence"] = evidence = ranked[0] if ranked else None
        if decision.reason == "weak_evidence":  # a retrieval-score abstention stands
            pass
        elif s.answer_policy == "evidence":
            answer, abstained, citations = evidence_answer(text, evidence, citations, sources, s, info)
        elif s.answer_policy == "span":
            from ragkit.methods.spans import span_answer

            answer, abstained, citations = span_answer(rt.generator, question, text, ranked, citations, sources, s, info, adapter)
    if adapter:
        info["adapter"] = adapter.name
    return Answer(
        method=method,
        answer=answer,
        abstained=abstained,
        citations=citations,
        usage=Usage(prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens),
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        details=AnswerDetails(**info),
    )
