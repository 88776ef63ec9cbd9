"""A query's BM25 rebuild and an ingest's rebuild at the same time: one at a time, never a broken folder."""

from __future__ import annotations

import threading

import ragkit
from tests.conftest import FAKE_MODELS, write_corpus


def test_concurrent_rebuilds_and_loads_never_fail(tmp_path):
    with ragkit.open(tmp_path / "home", **FAKE_MODELS) as kb:
        kb.collection("default").ingest(write_corpus(tmp_path / "corpus"))
        store = kb.store("default")
        errors: list[BaseException] = []

        def hammer(work):
            try:
                for _ in range(25):
                    work()
            except BaseException as e:  # what the race raised: FileExistsError / FileNotFoundError
                errors.append(e)

        def query():
            store._bm25 = None  # as after a write: the next query loads or rebuilds
            store.bm25().search("warranty", 3)

        threads = [threading.Thread(target=hammer, args=(store.rebuild_bm25,)) for _ in range(2)] + [threading.Thread(target=hammer, args=(query,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [p.name for p in kb.layout.bm25("default").parent.iterdir()] == ["default"]  # no temporary folder left
        assert store.bm25().search("warranty", 1)
