"""The vector index: one contract for embedded Chroma and a Chroma server."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ragkit.errors import BackendError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VectorHit:
    chunk_id: str
    score: float  # cosine similarity


class VectorIndex(Protocol):
    """upsert / delete / search / count over one collection's chunk vectors."""

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def search(self, vector: np.ndarray, k: int, where: dict | None = None, ids: Sequence[str] | None = None) -> list[VectorHit]: ...

    def count(self) -> int: ...

    def ids(self) -> set[str]: ...

    def drop(self) -> None: ...


def chroma_client(path=None, url: str | None = None):
    """A Chroma client: persistent at `path`, or HTTP to the server at `url`. Telemetry is off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if url:
            from urllib.parse import urlparse

            parsed = urlparse(url)
            if not parsed.hostname:
                raise BackendError(f"RAGKIT_CHROMA_URL {url!r} is not a URL like http://127.0.0.1:8000")
            client = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=settings,
            )
            client.heartbeat()
            return client
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except BackendError:
        raise
    except Exception as e:
        where = url or path
        raise BackendError(f"cannot open the Chroma index at {where}: {e}") from e


class ChromaIndex:
    """One ragkit collection in Chroma (cosine space); embeddings are always passed explicitly."""

    def __init__(self, client, collection: str):
        self.client = client
        self.name = f"ragkit_{collection}"
        try:
            self._col = client.get_or_create_collection(
                self.name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
            )
            self._batch = int(client.get_max_batch_size())
        except Exception as e:
            raise BackendError(f"cannot open Chroma collection {self.name}: {e}") from e

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict]) -> None:
        for i in range(0, len(ids), self._batch):
            try:
                self._col.upsert(
                    ids=list(ids[i : i + self._batch]),
                    embeddings=np.asarray(vectors[i : i + self._batch], dtype=np.float32),
                    metadatas=[_scalar_metadata(m) for m in metadatas[i : i + self._batch]],
                )
            except Exception as e:
                raise BackendError(f"Chroma upsert into {self.name} failed: {e}") from e

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), self._batch):
            try:
                self._col.delete(ids=ids[i : i + self._batch])
            except Exception as e:
                raise BackendError(f"Chroma delete from {self.name} failed: {e}") from e

    def search(self, vector: np.ndarray, k: int, where: dict | None = None, ids: Sequence[str] | None = None) -> list[VectorHit]:
        # No count() first: Chroma 1.x returns fewer than n_results (none when empty), and its
        # count cost 15 ms a query at 100k chunks, five times the search (benchmarks/query_growth.py).
        if ids is not None and not ids:
            return []
        for attempt in (1, 2):
            try:
                res = self._col.query(
                    query_embeddings=[np.asarray(vector, dtype=np.float32)],
                    n_results=k,
                    where=where or None,
                    ids=list(ids) if ids is not None else None,
                    include=["distances"],
                )
                break
            except Exception as e:
                # a query that raced a delete can meet an id the index just dropped ("Error finding id"):
                # the second try sees the index after the delete
                if attempt == 1 and "finding id" in str(e).lower():
                    continue
                raise BackendError(f"Chroma query on {self.name} failed: {e}") from e
        return [VectorHit(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0])]

    def count(self) -> int:
        return int(self._col.count())

    def ids(self) -> set[str]:
        out: set[str] = set()
        offset = 0
        while True:
            page = self._col.get(include=[], limit=self._batch, offset=offset)["ids"]
            out.update(page)
            if len(page) < self._batch:
                return out
            offset += len(page)

    def drop(self) -> None:
        """Delete the whole Chroma collection; one that is already gone is dropped, any other failure is raised."""
        from chromadb.errors import NotFoundError

        try:
            self.client.delete_collection(self.name)
        except NotFoundError as e:
            log.debug("drop %s: %s", self.name, e)
        except Exception as e:  # the manifest rows must not go while the vectors stay
            raise BackendError(f"could not delete the Chroma collection {self.name!r}: {e}") from e


def _scalar_metadata(meta: dict) -> dict | None:
    """Chroma metadata values must be scalars, never None; an empty mapping must be None."""
    clean = {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool))}
    return clean or None
