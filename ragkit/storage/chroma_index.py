"""The vector index: one contract for embedded Chroma and a Chroma server."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ragkit.errors import BackendError

log = logging.getLogger(__name__)

# HNSW settings (docs/benchmarks.md, "Vector index recall"). Against exact search, Chroma's default
# ef_search of 100 gave recall@100 of 0.97 on SciFact and 0.955 on 100k synthetic chunks, and
# recall@10 of 0.84 on a few thousand near-uniform vectors; 400 gave >= 0.99 on all three. Doubling
# max_neighbors and ef_construction did little more and made building 100k vectors 2.3 times slower.
# ef_search can be raised on an existing collection; max_neighbors and ef_construction only at creation.
EF_SEARCH = 400
MAX_NEIGHBORS = 16  # Chroma's defaults, stated so that a change is deliberate
EF_CONSTRUCTION = 100
# hnswlib searches with ef = max(ef_search, n_results): a large k is asked for OVERFETCH times as many
# results, so the search still looks past the k it returns
OVERFETCH = 2
# a filter to at most this many chunks (or to at most EXACT_PER_K times k) is searched exactly over the
# chunks' stored vectors: HNSW under a tight filter can miss an allowed chunk altogether, and fetching
# a few hundred vectors costs about what the filtered HNSW query does
EXACT_IDS = 500
EXACT_PER_K = 2


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
        hnsw = {
            "space": "cosine",
            "ef_search": EF_SEARCH,
            "max_neighbors": MAX_NEIGHBORS,
            "ef_construction": EF_CONSTRUCTION,
        }
        try:
            self._col = client.get_or_create_collection(self.name, configuration={"hnsw": hnsw}, embedding_function=None)
            self._batch = int(client.get_max_batch_size())
        except Exception as e:
            raise BackendError(f"cannot open Chroma collection {self.name}: {e}") from e
        self._min_results = self._raise_ef_search()

    def _raise_ef_search(self) -> int:
        """Raise the ef_search of a collection made by older code (Chroma's default, 100); returns
        the least n_results to ask for meanwhile. A process, or a server, that has loaded the index
        keeps the old value until it loads it again, so this index asks for EF_SEARCH results instead."""
        try:
            ef = int(((self._col.configuration or {}).get("hnsw") or {}).get("ef_search") or EF_SEARCH)
        except Exception as e:  # a configuration this client cannot read: leave it
            log.debug("cannot read the configuration of %s: %s", self.name, e)
            return 0
        if ef >= EF_SEARCH:
            return 0
        try:
            self._col.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
            log.info("raised ef_search of %s from %d to %d", self.name, ef, EF_SEARCH)
        except Exception as e:
            log.warning("could not raise ef_search of %s from %d: %s", self.name, ef, e)
        return EF_SEARCH

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
        """The k nearest chunks by cosine: exactly over a small `ids` filter, else by Chroma's HNSW."""
        # No count() first: Chroma 1.x returns fewer than n_results (none when empty), and its
        # count cost 15 ms a query at 100k chunks, five times the search (benchmarks/query_growth.py).
        if ids is not None:
            ids = list(dict.fromkeys(ids))  # Chroma refuses a repeated id
            if not ids:
                return []
            if len(ids) <= max(EXACT_IDS, EXACT_PER_K * k):
                return self._exact(vector, k, ids, where)
        n = max(k if k * OVERFETCH <= EF_SEARCH else k * OVERFETCH, self._min_results)
        for attempt in (1, 2):
            try:
                res = self._col.query(
                    query_embeddings=[np.asarray(vector, dtype=np.float32)],
                    n_results=n,
                    where=where or None,
                    ids=ids,
                    include=["distances"],
                )
                break
            except Exception as e:
                # a query that raced a delete can meet an id the index just dropped ("Error finding id"):
                # the second try sees the index after the delete
                if attempt == 1 and "finding id" in str(e).lower():
                    continue
                raise BackendError(f"Chroma query on {self.name} failed: {e}") from e
        return [VectorHit(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0][:k], res["distances"][0][:k])]

    def _exact(self, vector: np.ndarray, k: int, ids: list[str], where: dict | None) -> list[VectorHit]:
        """Cosine over the stored vectors of `ids` (those still there), best k first."""
        found: list[str] = []
        rows = []
        for i in range(0, len(ids), self._batch):
            try:
                page = self._col.get(ids=ids[i : i + self._batch], where=where or None, include=["embeddings"])
            except Exception as e:
                raise BackendError(f"Chroma get from {self.name} failed: {e}") from e
            if len(page["ids"]):
                found.extend(page["ids"])
                rows.append(np.asarray(page["embeddings"], dtype=np.float32))
        if not found:
            return []
        matrix = np.concatenate(rows)
        q = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * float(np.linalg.norm(q))
        scores = (matrix @ q) / np.where(norms > 0, norms, 1.0)
        order = sorted(range(len(found)), key=lambda j: (-scores[j], found[j]))[:k]
        return [VectorHit(found[j], float(scores[j])) for j in order]

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
