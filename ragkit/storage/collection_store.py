"""A collection's storage: the manifest rows, the vector index and the BM25 index, kept in step."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from ragkit.storage.bm25 import BM25Index
from ragkit.storage.home import HomeLayout
from ragkit.storage.manifest import Manifest
from ragkit.types import Chunk

if TYPE_CHECKING:
    from ragkit.storage.chroma_index import VectorIndex

log = logging.getLogger(__name__)


def vectors_by_document(matrix: np.ndarray, chunks: dict[str, list[Chunk]]) -> dict[str, np.ndarray]:
    """Split one matrix of chunk vectors (documents in `chunks` order) into each document's rows."""
    out, offset = {}, 0
    for doc_id, doc_chunks in chunks.items():
        out[doc_id] = matrix[offset : offset + len(doc_chunks)]
        offset += len(doc_chunks)
    return out


class CollectionStore:
    """Writes go vector index first, manifest second; the BM25 index is derived from the manifest."""

    def __init__(self, name: str, manifest: Manifest, vectors: "Callable[[], VectorIndex]", layout: HomeLayout):
        self.name = name
        self.manifest = manifest
        self._vectors_factory = vectors
        self._vectors: "VectorIndex | None" = None
        self.layout = layout
        self._bm25: BM25Index | None = None
        self._bm25_lock = threading.RLock()  # bm25() rebuilds under it, and so does an ingest's rebuild_bm25()

    @property
    def vectors(self) -> "VectorIndex":
        """The vector index, opened on first use (a no-op sync never opens it)."""
        if self._vectors is None:
            self._vectors = self._vectors_factory()
        return self._vectors

    @property
    def revision(self) -> int:
        return self.manifest.revision(self.name)

    def recover(self) -> int:
        """Undo what a killed run left half-done; returns the number of orphan vectors removed.

        Every write first records the chunk ids it may touch. Whatever of those the manifest
        did not end up holding is an orphan in the vector index and is deleted.
        """
        intents = self.manifest.pending_intents(self.name)
        if not intents:
            return 0
        orphans: list[str] = []
        for doc_id, touched in intents.items():
            committed = set(self.manifest.chunk_ids(doc_id))
            orphans.extend(cid for cid in touched if cid not in committed)
        if orphans:
            self.vectors.delete(orphans)
        self.manifest.clear_pending(self.name, intents)
        log.info("recovered %s: removed %d orphan vectors from an interrupted run", self.name, len(orphans))
        return len(orphans)

    def write_documents(
        self, rows, chunks: dict[str, list[Chunk]], vectors: dict[str, np.ndarray], texts: dict[str, str] | None = None
    ) -> int:
        """Index documents, replacing all their previous chunks; returns the number of chunks removed.

        The one write path into the vector index. Order matters for crash safety: intent, new
        vectors, manifest commit, stale vectors, done. `texts` None re-embeds the stored chunks
        (an embedder switch): the rows are rewritten, the chunks and the revision stay.
        """
        doc_ids = [row.doc_id for row in rows]
        old = {d: self.manifest.chunk_ids(d) for d in doc_ids}
        new = {d: [c.chunk_id for c in chunks.get(d, [])] for d in doc_ids}
        self.manifest.record_pending(self.name, {d: sorted(set(old[d]) | set(new[d])) for d in doc_ids})
        flat = [c for d in doc_ids for c in chunks.get(d, [])]
        if flat:
            matrix = np.concatenate([vectors[d] for d in doc_ids if chunks.get(d)])
            self.vectors.upsert([c.chunk_id for c in flat], matrix, [c.metadata for c in flat])
        if texts is None:
            self.manifest.update_rows(self.name, list(rows))
        else:
            self.manifest.commit_documents(self.name, list(rows), chunks, texts)
        stale = [cid for d in doc_ids for cid in old[d] if cid not in set(new[d])]
        if stale:
            self.vectors.delete(stale)
        self.manifest.clear_pending(self.name, doc_ids)
        return len(stale)

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        """Remove documents and every one of their chunks from both indexes; returns chunks deleted."""
        doc_ids = list(doc_ids)
        old = {d: self.manifest.chunk_ids(d) for d in doc_ids}
        self.manifest.record_pending(self.name, old)
        self.manifest.delete_documents(self.name, doc_ids)
        ids = [cid for d in doc_ids for cid in old[d]]
        if ids:
            self.vectors.delete(ids)
        self.manifest.clear_pending(self.name, doc_ids)
        return len(ids)

    def drop(self) -> None:
        """Remove the collection's index, manifest rows and BM25 files. The vectors go first: when
        that fails (BackendError) the manifest still lists every document, so nothing is orphaned."""
        import shutil

        self.vectors.drop()
        self.manifest.drop_collection(self.name)
        shutil.rmtree(self.layout.bm25(self.name), ignore_errors=True)
        self._bm25 = None

    def bm25(self) -> BM25Index:
        """The BM25 index at the manifest's current revision (loaded, or rebuilt when stale)."""
        revision = self.revision
        with self._bm25_lock:
            if self._bm25 is not None and self._bm25.revision == revision:
                return self._bm25
            folder = self.layout.bm25(self.name)
            index = BM25Index.load(folder)
            if index is None or index.revision != revision:
                index = self.rebuild_bm25(revision)
            self._bm25 = index
            return index

    def rebuild_bm25(self, revision: int | None = None) -> BM25Index:
        """Rebuild from the manifest and save; one rebuild at a time (a query's and an ingest's raced on the files)."""
        with self._bm25_lock:
            revision = self.revision if revision is None else revision
            ids, texts = self.manifest.chunk_embed_texts(self.name)
            index = BM25Index.build(ids, texts, revision)
            index.save(self.layout.bm25(self.name))
            log.info("BM25 index of %s rebuilt: %d chunks, revision %d", self.name, len(ids), revision)
            self._bm25 = index
            return index
