"""The public Python API: `ragkit.open(home).collection(name)` and what a collection can do."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from ragkit.errors import NotFound
from ragkit.types import DocumentInfo, IngestReport, QueryResult

if TYPE_CHECKING:
    from ragkit.kb import KnowledgeBase

ProgressFn = Callable[[str, int, int], None]


class Collection:
    """A named corpus in a knowledge base. Methods return the CLI's JSON as typed objects."""

    def __init__(self, kb: "KnowledgeBase", name: str):
        self.kb = kb
        self.name = name

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
        retriever = HybridRetriever(store, self.kb.embedder, alpha=self.kb.settings.hybrid_alpha, depth=self.kb.settings.fusion_depth)
        return retriever.query(text, k=k, mode=mode, where=where)

    def documents(self) -> list[DocumentInfo]:
        self._require()
        return [row.info() for row in self.kb.manifest.documents(self.name)]

    def document(self, ref: str) -> DocumentInfo:
        """A document by source or doc_id."""
        return self._row(ref).info()

    def delete_document(self, ref: str) -> DocumentInfo:
        """Remove a document (by source or doc_id) and all its chunks from every index."""
        row = self._row(ref)
        store = self.kb.store(self.name)
        self.kb.lock_for_writing()
        store.delete_documents([row.doc_id])
        store.rebuild_bm25()
        return row.info()

    def _row(self, ref: str):
        self._require()
        row = self.kb.manifest.document(self.name, source=ref) or self.kb.manifest.document(self.name, doc_id=ref)
        if row is None:
            raise NotFound(f"no document {ref!r} in collection {self.name!r}", code="document_not_found")
        return row

    def _require(self) -> None:
        if not self.exists:
            raise NotFound(f"collection {self.name!r} does not exist in {self.kb.settings.home}", code="collection_not_found")
