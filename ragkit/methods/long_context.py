"""long-context: whole documents, most relevant first, until the window minus the answer budget is full.

Relevance is rag's: a two-hop question's second-hop document leads (ragkit.methods.hops), and a newer
version of a relevant document goes before the older one (ragkit.methods.currency), so the evidence
sentence is taken from the documents that answer, and the current one first.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ragkit.methods.base import AdapterRef, Runtime, generate_answer
from ragkit.methods.currency import keep_newer_versions
from ragkit.methods.prompts import SourceText, build_messages
from ragkit.methods.rag import retrieved_details, two_hops
from ragkit.types import Answer


class LongContextMethod:
    name = "long-context"
    needs_adapter = False
    uses_retrieval = True

    def __init__(self, rt: Runtime, adapter: AdapterRef | None = None):
        self.rt = rt
        self.adapter = adapter
        self._corpus: tuple[int, list, dict[str, str], dict[str, int]] | None = None

    def _load_corpus(self):
        """Indexed documents, their texts and token counts; read once per collection revision."""
        revision = self.rt.store.revision
        if self._corpus is None or self._corpus[0] != revision:
            manifest = self.rt.kb.manifest
            docs = [d for d in manifest.documents(self.rt.collection) if d.status == "indexed"]
            texts = manifest.document_texts([d.doc_id for d in docs])
            tokens = {d: self.rt.generator.count_tokens(t) for d, t in texts.items()}
            self._corpus = (revision, docs, texts, tokens)
        return self._corpus[1:]

    def prompt_limit(self) -> int:
        """Prompt tokens allowed: the window (or the long_context_tokens cap) less the answer budget."""
        s = self.rt.settings
        gen = self.rt.generator
        window = gen.context_window if s.long_context_tokens is None else min(gen.context_window, s.long_context_tokens)
        return window - s.max_tokens

    def budget(self, question: str) -> int:
        skeleton = self.rt.generator.count_message_tokens(build_messages(question, []))
        return self.prompt_limit() - skeleton - 16

    def answer(self, question: str) -> Answer:
        started = time.perf_counter()
        rt = self.rt
        docs, texts, tokens = self._load_corpus()
        # relevance order: the rank of each document's best chunk, then the rest in source order
        hits = rt.retriever.query(question, k=max(rt.settings.fusion_depth, rt.settings.retrieve_k)).hits
        details: dict = {}
        evidence_query = None
        hopped = two_hops(rt, question, rt.settings.retrieve_k)
        if hopped is not None:
            first, details["hops"], evidence_query = hopped
            hits = first + [h for h in hits if all(h.chunk_id != f.chunk_id for f in first)]
        hits = keep_newer_versions(hits, rt.settings.rag_k, question)
        order: list[str] = []
        for h in hits:
            if h.doc_id not in order:
                order.append(h.doc_id)
        order += [d.doc_id for d in docs if d.doc_id not in order]
        source_of = {d.doc_id: d.source for d in docs}
        row_of = {d.doc_id: d for d in docs}

        def source(n: int, doc_id: str, text: str) -> SourceText:
            row = row_of[doc_id]
            return SourceText(n=n, source=row.source, text=text, date=row.effective_date, date_origin=row.date_origin)

        budget = self.budget(question)
        per_doc_overhead = 12
        shown: list[SourceText] = []
        used = 0
        truncated = None
        for doc_id in order:
            cost = tokens.get(doc_id, 0) + per_doc_overhead
            if used + cost <= budget:
                shown.append(source(len(shown) + 1, doc_id, texts.get(doc_id, "")))
                used += cost
            elif not shown:  # the most relevant document alone is too large: cut it at a chunk boundary
                text, kept = self._cut_at_chunk(doc_id, budget - per_doc_overhead)
                if text:
                    shown.append(source(1, doc_id, text))
                    used += kept + per_doc_overhead
                    truncated = source_of[doc_id]
        shown, truncated = self._fit(question, shown, truncated)
        corpus_tokens = sum(tokens.values())
        context_tokens = sum(rt.generator.count_tokens(s.text) for s in shown)
        details |= {
            "context_tokens": context_tokens,
            "documents_in_context": len(shown),
            "corpus_tokens": corpus_tokens,
            "corpus_fraction_in_context": round(context_tokens / corpus_tokens, 4) if corpus_tokens else None,
            "truncated_document": truncated,
            "sources_in_context": [s.source for s in shown],
            "retrieved": retrieved_details(hits[: rt.settings.retrieve_k]),
        }
        top_dense = max((h.metadata.get("dense_score", 0.0) for h in hits), default=0.0)
        return generate_answer(
            rt, self.name, question, shown, adapter=self.adapter, top_dense=top_dense, details=details, started=started, evidence_query=evidence_query
        )

    def _fit(self, question: str, shown: list[SourceText], truncated: str | None) -> tuple[list[SourceText], str | None]:
        """Check the packed prompt as the model will see it and drop documents from the end until it fits.

        Packing adds per-document estimates; the source headers and the tokens where documents
        meet can add up past them (on the example corpus, 20 documents came to 8,212 prompt tokens
        against 8,128 allowed), so the exact count has the last word.
        """
        limit = self.prompt_limit()
        gen = self.rt.generator
        over = gen.count_message_tokens(build_messages(question, shown)) - limit
        while shown and over > 0:
            if len(shown) == 1:  # one document: cut it shorter, by what is over and a margin
                only = shown[0]
                doc_id = next(d.doc_id for d in self._load_corpus()[0] if d.source == only.source)
                text, _ = self._cut_at_chunk(doc_id, gen.count_tokens(only.text) - over - 16)
                shown = [replace(only, text=text)] if text else []
                truncated = only.source
            else:
                shown = shown[:-1]
            over = gen.count_message_tokens(build_messages(question, shown)) - limit if shown else 0
        return shown, truncated

    def _cut_at_chunk(self, doc_id: str, budget: int) -> tuple[str, int]:
        """The longest prefix of a document, ending at a chunk boundary, that fits the budget."""
        manifest = self.rt.kb.manifest
        text = manifest.document_texts([doc_id]).get(doc_id, "")
        chunks = sorted(manifest.chunks_by_id(manifest.chunk_ids(doc_id)).values(), key=lambda c: c.ordinal)
        best, best_tokens = "", 0
        for c in chunks:
            candidate = text[: c.end]
            n = self.rt.generator.count_tokens(candidate)
            if n > budget:
                break
            best, best_tokens = candidate, n
        return best, best_tokens
