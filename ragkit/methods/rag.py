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
        hits = self.rt.retriever.query(question, k=max(s.retrieve_k, s.rag_k)).hits
        shown = pack_chunks(self.rt, keep_newer_versions(hits, s.rag_k, question), s.rag_k, s.rag_context_tokens)
        top_dense = max((h.metadata.get("dense_score", 0.0) for h in hits), default=0.0)
        details = {"retrieved": retrieved_details(hits), "shown": len(shown), "top_dense": round(top_dense, 4)}
        return generate_answer(self.rt, self.name, question, shown, adapter=self.adapter, top_dense=top_dense, details=details, started=started)


class LoraRagMethod(RagMethod):
    """Retrieval plus the adapter (RAFT-style)."""

    name = "lora-rag"
    needs_adapter = True
