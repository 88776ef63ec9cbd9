"""rag and lora-rag: the top chunks of hybrid retrieval, numbered, with or without an adapter."""

from __future__ import annotations

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
    from ragkit.methods.base import sentences
    from ragkit.methods.hops import bridge_entities, plan

    p = plan(question)
    if p is None:
        return None
    first = rt.retriever.query(p.first_query, k=k).hits
    emb = rt.kb.embedder
    asked = emb.embed_query(p.first_query)
    bridge_sentence, entities = "", []
    for hit in first[:2]:  # the top passage first; the next only when the top one names nothing new
        lines = [line for line in sentences(hit.text) if len(line) >= 12]
        if not lines:
            continue
        scores = emb.embed_documents(lines) @ asked
        for i in scores.argsort()[::-1][:2]:
            entities = bridge_entities(lines[int(i)], question)
            if entities:
                bridge_sentence = lines[int(i)]
                break
        if entities:
            break
    if not entities:
        return None
    second_query = f"{p.head} {' '.join(entities)}"
    second = rt.retriever.query(second_query, k=k).hits
    other = [h for h in second if h.doc_id != first[0].doc_id][:1]  # the second hop is for another document
    merged: list[Hit] = []
    for h in [*other, *first[:1], *second, *first[1:]]:
        if all(h.chunk_id != m.chunk_id for m in merged):
            merged.append(h)
    merged = [h.model_copy(update={"rank": i + 1}) for i, h in enumerate(merged[:k])]
    steps = [
        {"query": p.first_query, "reason": p.reason, "bridge": bridge_sentence, "entities": entities, "sources": [h.source for h in first[:3]]},
        {"query": second_query, "sources": [h.source for h in second[:3]]},
    ]
    return merged, steps, second_query


class LoraRagMethod(RagMethod):
    """Retrieval plus the adapter (RAFT-style)."""

    name = "lora-rag"
    needs_adapter = True
