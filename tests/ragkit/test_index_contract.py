"""One contract, run against embedded Chroma and a real Chroma server on loopback."""

from __future__ import annotations

import numpy as np
import pytest

from ragkit.storage.chroma_index import ChromaIndex, chroma_client


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture(params=["embedded", "server"])
def index(request, tmp_path):
    if request.param == "embedded":
        client = chroma_client(path=tmp_path / "chroma")
    else:
        client = chroma_client(url=request.getfixturevalue("chroma_server"))
    name = f"contract-{request.node.name.split('[')[0][-20:].replace('_', '-')}".strip("-")
    idx = ChromaIndex(client, name)
    yield idx
    idx.drop()


def test_upsert_count_search(index):
    vecs = np.stack([unit([1, 0, 0]), unit([0, 1, 0]), unit([0.9, 0.1, 0])])
    index.upsert(["a", "b", "c"], vecs, [{"source": "x.md"}, {"source": "y.md"}, {"source": "x.md", "page": 2}])
    assert index.count() == 3
    hits = index.search(unit([1, 0, 0]), 2)
    assert [h.chunk_id for h in hits] == ["a", "c"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].score >= hits[1].score


def test_upsert_replaces_same_id(index):
    index.upsert(["a"], np.stack([unit([1, 0, 0])]), [{"v": 1}])
    index.upsert(["a"], np.stack([unit([0, 1, 0])]), [{"v": 2}])
    assert index.count() == 1
    assert index.search(unit([0, 1, 0]), 1)[0].score == pytest.approx(1.0, abs=1e-4)


def test_delete_and_ids(index):
    vecs = np.stack([unit([1, 0, 0]), unit([0, 1, 0]), unit([0, 0, 1])])
    index.upsert(["a", "b", "c"], vecs, [{}, {}, {}])
    index.delete(["b", "missing"])
    assert index.ids() == {"a", "c"}
    assert index.count() == 2


def test_search_restricted_to_ids(index):
    vecs = np.stack([unit([1, 0, 0]), unit([0.8, 0.2, 0]), unit([0, 0, 1])])
    index.upsert(["a", "b", "c"], vecs, [{}, {}, {}])
    hits = index.search(unit([1, 0, 0]), 5, ids=["b", "c"])
    assert [h.chunk_id for h in hits] == ["b", "c"]
    assert index.search(unit([1, 0, 0]), 5, ids=[]) == []


def test_empty_index_search(index):
    assert index.search(unit([1, 0, 0]), 3) == []
    assert index.count() == 0


def test_large_batch_upsert_respects_backend_limit(index):
    n = index._batch + 7
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(n, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    index.upsert([f"id{i}" for i in range(n)], vecs, [{"i": i} for i in range(n)])
    assert index.count() == n


def test_drop_twice_is_fine_and_a_real_failure_is_raised(index, monkeypatch):
    from ragkit.errors import BackendError

    index.upsert(["a"], np.stack([unit([1, 0, 0])]), [{}])
    index.drop()
    index.drop()  # already gone: nothing to do

    def broken(name):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(index.client, "delete_collection", broken)
    with pytest.raises(BackendError, match="disk gone"):  # the manifest rows must not be deleted after this
        index.drop()
