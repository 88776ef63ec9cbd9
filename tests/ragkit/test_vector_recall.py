"""Recall of the vector index against exact search (docs/benchmarks.md, "Vector index recall").

Clustered 384-d vectors, a few thousand, are hard enough that Chroma's default HNSW settings
(ef_search 100) miss neighbours: recall@10 of about 0.85 unfiltered and recall@100 of about 0.98
under a 10% filter. ChromaIndex must reach 0.99 against numpy's exact top k.
"""

from __future__ import annotations

import numpy as np
import pytest

from ragkit.storage import chroma_index
from ragkit.storage.chroma_index import ChromaIndex, chroma_client

DIM = 384


def clustered(n: int, noise: float, seed: int = 0) -> np.ndarray:
    """n unit vectors around n / 100 random centres (noise 2 is close to uniform, the hard case for HNSW)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 100), DIM))
    x = centres[rng.integers(0, len(centres), n)] + noise * rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def near(x: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    """Queries: stored vectors with noise."""
    rng = np.random.default_rng(seed)
    q = x[rng.integers(0, len(x), count)] + 0.3 * rng.normal(size=(count, DIM))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def recall(index, x: np.ndarray, queries: np.ndarray, k: int, rows: np.ndarray | None = None) -> float:
    """Mean |index top k ∩ exact top k| / k; `rows` restricts both to those chunks (an ids filter)."""
    pool = np.arange(len(x)) if rows is None else rows
    ids = None if rows is None else [f"c{i}" for i in rows]
    found = []
    for q in queries:
        exact = {f"c{i}" for i in pool[np.argsort(-(x[pool] @ q))[:k]]}
        got = {h.chunk_id for h in index.search(q, k, ids=ids)}
        found.append(len(exact & got) / len(exact))
    return float(np.mean(found))


def filled(index: ChromaIndex, x: np.ndarray) -> ChromaIndex:
    index.upsert([f"c{i}" for i in range(len(x))], x, [{"i": i} for i in range(len(x))])
    return index


@pytest.fixture(params=["embedded", "server"])
def client(request, tmp_path):
    if request.param == "embedded":
        return chroma_client(path=tmp_path / "chroma")
    return chroma_client(url=request.getfixturevalue("chroma_server"))


def test_recall_at_10_unfiltered_against_exact(client, request):
    x = clustered(3000, noise=2.0)
    index = filled(ChromaIndex(client, f"recall-{request.node.callspec.id}"), x)
    try:
        assert recall(index, x, near(x, 50), 10) >= 0.99
    finally:
        index.drop()


def test_recall_under_a_ten_percent_filter_against_exact(client, request):
    x = clustered(5000, noise=0.6)
    rows = np.sort(np.random.default_rng(2).choice(len(x), 500, replace=False))
    index = filled(ChromaIndex(client, f"filtered-{request.node.callspec.id}"), x)
    try:
        queries = near(x, 40)
        assert recall(index, x, queries, 10, rows) >= 0.99
        assert recall(index, x, queries, 100, rows) >= 0.99
    finally:
        index.drop()


def test_a_chunk_is_found_by_its_own_vector_under_a_filter(tmp_path, monkeypatch):
    x = clustered(4000, noise=0.6, seed=3)
    index = filled(ChromaIndex(chroma_client(path=tmp_path / "chroma"), "self"), x)
    allowed = [f"c{i}" for i in range(0, len(x), 8)]  # 500 chunks: the exact path
    for i in range(0, len(x), 40):
        assert index.search(x[i], 1, ids=allowed)[0].chunk_id == f"c{i}"
    monkeypatch.setattr(chroma_index, "EXACT_IDS", 0)  # the same through Chroma's filtered HNSW
    for i in range(0, len(x), 40):
        hits = index.search(x[i], 1, ids=allowed)
        assert hits[0].chunk_id == f"c{i}" and hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_the_exact_path_skips_deleted_ids_and_keeps_the_where(tmp_path):
    x = clustered(300, noise=0.6, seed=4)
    index = filled(ChromaIndex(chroma_client(path=tmp_path / "chroma"), "exact"), x)
    index.delete(["c0"])
    ids = [f"c{i}" for i in range(10)] + ["never-stored"]
    hits = index.search(x[0], 20, ids=ids)
    assert [h.chunk_id for h in hits][:1] != ["c0"] and {h.chunk_id for h in hits} == {f"c{i}" for i in range(1, 10)}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {h.chunk_id for h in index.search(x[0], 20, ids=ids, where={"i": {"$lt": 5}})} == {f"c{i}" for i in range(1, 5)}


def test_a_collection_made_by_older_code_gets_the_higher_ef_search(client, request):
    """Older ragkit created collections with Chroma's defaults; opening one raises ef_search, and an
    index already loaded with the old value (this process, or the server) is asked for more results."""
    x = clustered(3000, noise=2.0)
    name = f"ragkit_old-{request.node.callspec.id}"
    col = client.create_collection(name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    col.add(ids=[f"c{i}" for i in range(len(x))], embeddings=x)
    assert col.query(query_embeddings=[x[0]], n_results=1)["ids"][0] == ["c0"]  # the old index is loaded
    index = ChromaIndex(client, name.removeprefix("ragkit_"))
    try:
        assert client.get_collection(name).configuration["hnsw"]["ef_search"] == chroma_index.EF_SEARCH
        assert recall(index, x, near(x, 50), 10) >= 0.99
        assert ChromaIndex(client, name.removeprefix("ragkit_"))._min_results == 0  # raised once
    finally:
        index.drop()
