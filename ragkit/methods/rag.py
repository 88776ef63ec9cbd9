"""rag and lora-rag: the top chunks of hybrid retrieval, numbered, with or without an adapter."""

from __future__ import annotations

import re
import time

from ragkit.methods.base import AdapterRef, Runtime, generate_answer
from ragkit.methods.currency import keep_newer_versions
from ragkit.methods.prompts import SourceText
from ragkit.types import Answer, Hit


def retrieved_details(hits: list[Hit]) -> list[dict]:
    return [{"rank": h.rank, "source": h.source, "chunk_id": h.chunk_id, "score": h.score} for h in hits]


def pack_chunks(rt: Runtime, hits: list[Hit], k: int, budget: int) -> list[SourceText]:
    """The first k hits as numbered sources, stopping before the token budget is exceeded."""
    shown: list[SourceText] = []
    used = 0
    for hit in hits[:k]:
        cost = rt.generator.count_tokens(hit.text) + 12
        if shown and used + cost > budget:
            break
        m = hit.metadata
        shown.append(
            SourceText(
                n=len(shown) + 1, source=hit.source, text=hit.text, chunk_id=hit.chunk_id, heading=m.get("heading"),
                date=m.get("doc_date"), date_origin=m.get("doc_date_origin"), supersedes=m.get("supersedes"),
            )
        )
        used += cost
    return shown


class RagMethod:
    name = "rag"
    needs_adapter = False
    uses_retrieval = True

    def __init__(self, rt: Runtime, adapter: AdapterRef | None = None):
        self.rt = rt
        self.adapter = adapter

    def answer(self, question: str) -> Answer:
        started = time.perf_counter()
        s = self.rt.settings
        k = max(s.retrieve_k, s.rag_k)
        hits = self.rt.retriever.query(question, k=k).hits
        details: dict = {}
        evidence_query = None
        hopped = two_hops(self.rt, question, k)
        if hopped is not None:
            hits, details["hops"], evidence_query = hopped
        shown = pack_chunks(self.rt, keep_newer_versions(hits, s.rag_k, question), s.rag_k, s.rag_context_tokens)
        top_dense = max((h.metadata.get("dense_score", 0.0) for h in hits), default=0.0)
        details.update(retrieved=retrieved_details(hits), shown=len(shown), top_dense=round(top_dense, 4))
        return generate_answer(
            self.rt, self.name, question, shown, adapter=self.adapter, top_dense=top_dense, details=details, started=started, evidence_query=evidence_query
        )


def two_hops(rt: Runtime, question: str, k: int) -> tuple[list[Hit], list[dict], str] | None:
    """The hits of a two-hop retrieval (ragkit.methods.hops), its steps, and the query the evidence
    sentence is matched against; None when the question needs one hop or no bridge was found."""
    from ragkit.methods.base import cell_values, sentences
    from ragkit.methods.hops import CODE, bridge_entities, plan
    from ragkit.textnorm import with_digits

    p = plan(question)
    if p is None:
        return None
    first = rt.retriever.query(p.first_query, k=k).hits
    emb = rt.kb.embedder
    query = with_digits(p.first_query)  # "every six months" finds "every 6 months"
    asked = emb.embed_query(query)
    numbers = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", query))
    bridge_sentence, entities, bridge_hit = "", [], first[0] if first else None
    codes = [c.lower() for c in CODE.findall(question)] if p.reason == "code" else []
    holding = [h for h in first if any(c in h.text.lower() for c in codes)]  # the passages that hold the named code
    for hit in holding[:2] or first[:2]:  # the top passage first; the next only when the top one names nothing new
        lines = [line for line in sentences(hit.text, labelled=True) if len(line) >= 12]
        if codes:  # the named code's own lines ("ticket: VT-24117 | priority: P2"), not its neighbours'
            lines = [line for line in lines if any(c in line.lower() for c in codes)] or lines
        if not lines:
            continue
        scores = emb.embed_documents(lines) @ asked
        scores += [0.2 * sum(bool(re.search(rf"(?<![\w.]){re.escape(n)}(?![\w.])", line)) for n in numbers) for line in lines]  # the numbers the clause states, exactly
        for i in scores.argsort()[::-1][: 4 if p.asks_person else 2]:  # a person bridge: the nearest line that names someone
            line = lines[int(i)]
            entities = bridge_entities(" | ".join(cell_values(line)) if "|" in line else line, question, names_first=p.asks_person)
            if p.asks_person:  # their name alone ("Ottilie Fenwarde"), not the codes and capitalised words beside it
                names = [e for e in entities if not CODE.fullmatch(e)]
                entities = [e for e in names if " " in e] or names
            if entities:
                bridge_sentence, bridge_hit = lines[int(i)], hit
                break
        if entities:
            break
    if not entities:
        return None
    second_query = f"{p.head} {' '.join(entities)}"
    second = rt.retriever.query(second_query, k=k).hits
    elsewhere = [h for h in second if h.doc_id != bridge_hit.doc_id]  # the second hop is for another document,
    other = [h for h in elsewhere if any(e.lower() in h.text.lower() for e in entities)][:1] or elsewhere[:1]  # the passage that names the bridge
    merged: list[Hit] = []
    for h in [*other, bridge_hit, *second, *first]:
        if all(h.chunk_id != m.chunk_id for m in merged):
            merged.append(h)
    merged = [h.model_copy(update={"rank": i + 1}) for i, h in enumerate(merged[:k])]
    steps = [
        {"query": p.first_query, "reason": p.reason, "bridge": bridge_sentence, "bridge_source": bridge_hit.source, "entities": entities, "sources": [h.source for h in first[:3]]},
        {"query": second_query, "sources": [h.source for h in second[:3]]},
    ]
    return merged, steps, second_query


class LoraRagMethod(RagMethod):
    """Retrieval plus the adapter (RAFT-style)."""

    name = "lora-rag"
    needs_adapter = True
