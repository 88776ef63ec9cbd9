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
