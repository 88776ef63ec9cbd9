"""The public Python API: `ragkit.open(home).collection(name)` and what a collection can do."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from ragkit.errors import NotFound, RagkitError, UsageError
from ragkit.types import Answer, Chunk, ChunkInfo, Comparison, DocumentInfo, EvalSummary, IngestReport, MethodError, ProgressFn, QueryResult

if TYPE_CHECKING:
    from ragkit.knowledge_base import KnowledgeBase



class Collection:
    """A named corpus in a knowledge base. Methods return the CLI's JSON as typed objects."""

    def __init__(self, kb: "KnowledgeBase", name: str):
        self.kb = kb
        self.name = name
        self._rt = None
        self._methods: dict = {}

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, home={str(self.kb.settings.home)!r})"

    @property
    def exists(self) -> bool:
        return self.kb.manifest.has_collection(self.name)

    @property
    def revision(self) -> int:
        return self.kb.manifest.revision(self.name)

    def ingest(
        self, paths: str | Path | Iterable[str | Path], *, prune: bool = False, workers: int | None = None, progress: ProgressFn | None = None
    ) -> IngestReport:
        """Sync files and folders into this collection (see `ragkit ingest`)."""
        from ingest.pipeline import SyncPipeline

        if isinstance(paths, (str, Path)):
            paths = [paths]
        return SyncPipeline(self.kb, self.name, workers=workers, progress=progress).sync_paths(paths, prune=prune)

    def ingest_bytes(self, files: list[tuple[str, bytes]], *, progress: ProgressFn | None = None) -> IngestReport:
        """Ingest received files given as (name, bytes); their root is `upload`."""
        from ingest.pipeline import SyncPipeline

        return SyncPipeline(self.kb, self.name, progress=progress).sync_uploads(files)

    def query(self, text: str, k: int = 10, mode: str = "hybrid", where: str | dict | None = None) -> QueryResult:
        """Retrieve the k best chunks: `hybrid` (default), `dense` or `bm25`, optionally filtered."""
        from ragkit.retrieval import HybridRetriever

        store = self.kb.store(self.name)
        retriever = HybridRetriever(store, self.kb.embedder_for(self.name), alpha=self.kb.settings.hybrid_alpha, depth=self.kb.settings.fusion_depth)
        return retriever.query(text, k=k, mode=mode, where=where)

    def _runtime(self):
        from ragkit.methods import Runtime

        if self._rt is None:
            self.kb.store(self.name)  # NotFound for a collection that does not exist
            self._rt = Runtime(self.kb, self.name)
        return self._rt

    def ask(self, question: str, method: str = "rag", adapter: str | None = None) -> Answer:
        """Answer with one method (see `ragkit ask`)."""
        return self._ask(question, method, adapter, {})

    def _ask(self, question: str, method: str, adapter: str | None, done: dict[str, Answer]) -> Answer:
        """`done`: answers to this question already at hand; a method made of others (self-route) reuses them."""
        from ragkit.methods import answer_with, build_method

        if not question or not question.strip():
            raise UsageError("the question is empty", code="empty_question")
        key = (method, adapter)
        if key not in self._methods:  # prepared once: long-context keeps its corpus per revision
            self._methods[key] = build_method(method, self._runtime(), adapter)
        return answer_with(self._methods[key], question, done)

    def available_methods(self) -> list[str]:
        """Every method that can run now (adapter methods only once an adapter exists)."""
        from ragkit.methods import METHODS

        has_adapter = bool(self.kb.adapters.list(self.name))
        return [m for m, cls in METHODS.items() if has_adapter or not cls.needs_adapter]

    def compare(self, question: str, methods: list[str] | None = None, adapter: str | None = None) -> Comparison:
        """Several methods on one question; a method that cannot run reports its error."""
        from ragkit.methods import check_method

        names = methods or self.available_methods()
        for m in names:
            check_method(m)
        results: list[Answer | MethodError] = []
        for m in names:
            try:
                results.append(self._ask(question, m, adapter, {r.method: r for r in results if isinstance(r, Answer)}))
            except RagkitError as e:
                results.append(MethodError(method=m, error={"code": e.code, "message": e.message}))
        return Comparison(question=question, results=results)

    def finetune(
        self,
        *,
        name: str | None = None,
        data: list[str] | None = None,
        train_qa: str | None = None,
        exclude_eval: str | None = None,
        steps: int | None = None,
        epochs: float | None = None,
        lora=None,
        raft_gold_share: float = 0.8,
        progress: ProgressFn | None = None,
    ):
        """Train a LoRA adapter on this collection (see `ragkit finetune`); returns a FinetuneResult.
        `lora`: a `ragkit.finetune.train.LoraSettings` (rank, target modules, learning rate...), else the default recipe."""
        from ragkit.finetune import finetune
        from ragkit.finetune.train import LoraSettings

        result = finetune(
            self.kb, self.name, name=name, data=data, train_qa=train_qa, exclude_eval_file=exclude_eval, steps=steps, epochs=epochs,
            lora=lora or LoraSettings(), raft_gold_share=raft_gold_share, progress=progress,
        )  # fmt: skip
        self._methods.clear()  # "the newest adapter" may have changed
        return result

    def evaluate(
        self,
        evalset,
        *,
        methods: list[str] | None = None,
        adapter: str | None = None,
        limit: int | None = None,
        out=None,
        judge: bool = False,
        progress: ProgressFn | None = None,
    ) -> "EvalSummary":
        """Run methods over an eval set and write reports (see `ragkit eval`); returns its summary."""
        from ragkit.evaluation.runner import run_eval

        return run_eval(self.kb, self.name, evalset, methods=methods, adapter=adapter, limit=limit, out=out, judge=judge, progress=progress)

    def documents(self) -> list[DocumentInfo]:
        self._require()
        return [row.info() for row in self.kb.manifest.documents(self.name)]

    def document(self, ref: str) -> DocumentInfo:
        """A document by source or doc_id."""
        return self._row(ref).info()

    def chunk(self, chunk_id: str) -> ChunkInfo:
        """One chunk of this collection by id, with its text and metadata."""
        self._require()
        found = self.kb.manifest.chunks_by_id([chunk_id]).get(chunk_id)
        row = found and self.kb.manifest.document(self.name, doc_id=found.doc_id)
        if not found or row is None:
            raise NotFound(f"no chunk {chunk_id!r} in collection {self.name!r}", code="chunk_not_found")
        return ChunkInfo(
            chunk_id=found.chunk_id, doc_id=found.doc_id, source=row.source, ordinal=found.ordinal, start=found.start, end=found.end, text=found.text, metadata=found.metadata
        )

    def chunks_of(self, ref: str) -> list[ChunkInfo]:
        """A document's chunks (by source or doc_id), in document order."""
        row = self._row(ref)
        found = self.kb.manifest.chunks_by_id(self.kb.manifest.chunk_ids(row.doc_id))
        return [
            ChunkInfo(chunk_id=c.chunk_id, doc_id=c.doc_id, source=row.source, ordinal=c.ordinal, start=c.start, end=c.end, text=c.text, metadata=c.metadata)
            for c in sorted(found.values(), key=lambda c: c.ordinal)
        ]

    def chunks(self) -> Iterator[Chunk]:
        """Every chunk of the collection, as stored (text, embed_text, offsets, metadata)."""
        self._require()
        return iter(self.kb.manifest.all_chunks(self.name))

    def stats(self) -> tuple[int, int]:
        """(documents, chunks) held."""
        return self.kb.manifest.stats(self.name)

    def delete_document(self, ref: str) -> DocumentInfo:
        """Remove a document (by source or doc_id) and all its chunks from every index."""
        row = self._row(ref)
        store = self.kb.store(self.name)
        self.kb.lock_for_writing()
        store.delete_documents([row.doc_id])
        store.rebuild_bm25()
        return row.info()

    def delete(self) -> None:
        """Delete the collection: its index, documents and BM25, and what was derived from its text
        (adapters trained on it, embedders tuned to it, cached eval answers)."""
        import shutil

        from ragkit.evaluation.cache import AnswerCache

        self.kb.store(self.name).drop()
        self.kb.forget_store(self.name)
        shutil.rmtree(self.kb.layout.adapters(self.name), ignore_errors=True)
        shutil.rmtree(self.kb.layout.embedders(self.name), ignore_errors=True)
        cache = AnswerCache(self.kb.layout.eval_cache)
        try:
            cache.forget(self.name)
        finally:
            cache.close()

    def _row(self, ref: str):
        self._require()
        row = self.kb.manifest.document(self.name, source=ref) or self.kb.manifest.document(self.name, doc_id=ref)
        if row is None:
            raise NotFound(f"no document {ref!r} in collection {self.name!r}", code="document_not_found")
        return row

    def _require(self) -> None:
        if not self.exists:
            raise NotFound(f"collection {self.name!r} does not exist in {self.kb.settings.home}", code="collection_not_found")
