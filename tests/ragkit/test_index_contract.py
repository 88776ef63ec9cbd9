"""The index contract (tests.contracts.IndexContract) against embedded Chroma and a real Chroma server on loopback."""

from __future__ import annotations

import pytest

from ragkit.storage.chroma_index import ChromaIndex, chroma_client
from tests.contracts import IndexContract


def _index(client, request):
    name = f"contract-{request.node.name.split('[')[0][-20:].replace('_', '-')}".strip("-")
    idx = ChromaIndex(client, name)
    yield idx
    idx.drop()


class TestEmbeddedChroma(IndexContract):
    @pytest.fixture
    def index(self, request, tmp_path):
        yield from _index(chroma_client(path=tmp_path / "chroma"), request)


class TestChromaServer(IndexContract):
    @pytest.fixture
    def index(self, request, chroma_server):
        yield from _index(chroma_client(url=chroma_server), request)


def test_a_query_that_races_a_delete_is_tried_again(tmp_path, monkeypatch):
    import numpy as np

    from tests.contracts import unit

    idx = ChromaIndex(chroma_client(path=tmp_path / "chroma"), "race")
    idx.upsert(["a", "b"], np.stack([unit([1, 0, 0]), unit([0, 1, 0])]), [{}, {}])
    real, calls = idx._col.query, []

    def flaky(**kw):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Error executing plan: Internal error: Error finding id")
        return real(**kw)

    monkeypatch.setattr(idx._col, "query", flaky)
    assert [h.chunk_id for h in idx.search(unit([1, 0, 0]), 1)] == ["a"] and len(calls) == 2
