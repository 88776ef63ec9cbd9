"""Contract tests every implementation of a seam inherits: subclass, provide the fixture, get the tests."""

from __future__ import annotations

import numpy as np
import pytest

from ragkit.generation.base import Message

QUESTION = [Message("system", "Answer briefly."), Message("user", "Name three colours of the rainbow.")]


class GeneratorContract:
    """A Generator (ragkit.generation.base): a subclass provides the `gen` fixture."""

    @pytest.fixture
    def gen(self):
        raise NotImplementedError

    def test_answers_with_its_own_token_counts(self, gen):
        out = gen.generate(QUESTION, max_tokens=12)
        assert out.text and out.finish_reason in ("stop", "length")
        assert out.prompt_tokens == gen.count_message_tokens(QUESTION)
        assert 0 < out.completion_tokens <= 12
        assert gen.count_tokens("hello world") >= 1
        assert gen.context_window >= 2048

    def test_greedy_is_deterministic_and_stops_where_told(self, gen):
        first = gen.generate(QUESTION, max_tokens=16)
        assert gen.generate(QUESTION, max_tokens=16) == first
        word = first.text.split()[1]
        cut = gen.generate(QUESTION, max_tokens=16, stop=[word])
        assert word not in cut.text and first.text.startswith(cut.text)

    def test_a_prompt_beyond_the_window_is_refused_by_name(self, gen):
        from ragkit.errors import ModelError

        with pytest.raises(ModelError, match="exceeds the model's window"):
            gen.generate([Message("user", "word " * (gen.context_window + 100))], max_tokens=8)


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


class IndexContract:
    """A vector index (ragkit.storage.chroma_index.ChromaIndex's methods): a subclass provides `index`."""

    @pytest.fixture
    def index(self):
        raise NotImplementedError

    def test_upsert_count_search(self, index):
        vecs = np.stack([unit([1, 0, 0]), unit([0, 1, 0]), unit([0.9, 0.1, 0])])
        index.upsert(["a", "b", "c"], vecs, [{"source": "x.md"}, {"source": "y.md"}, {"source": "x.md", "page": 2}])
        assert index.count() == 3
        hits = index.search(unit([1, 0, 0]), 2)
        assert [h.chunk_id for h in hits] == ["a", "c"]
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert hits[0].score >= hits[1].score

    def test_upsert_replaces_same_id(self, index):
        index.upsert(["a"], np.stack([unit([1, 0, 0])]), [{"v": 1}])
        index.upsert(["a"], np.stack([unit([0, 1, 0])]), [{"v": 2}])
        assert index.count() == 1
        assert index.search(unit([0, 1, 0]), 1)[0].score == pytest.approx(1.0, abs=1e-4)

    def test_delete_and_ids(self, index):
        vecs = np.stack([unit([1, 0, 0]), unit([0, 1, 0]), unit([0, 0, 1])])
        index.upsert(["a", "b", "c"], vecs, [{}, {}, {}])
        index.delete(["b", "missing"])
        assert index.ids() == {"a", "c"}
        assert index.count() == 2

    def test_search_restricted_to_ids(self, index):
        vecs = np.stack([unit([1, 0, 0]), unit([0.8, 0.2, 0]), unit([0, 0, 1])])
        index.upsert(["a", "b", "c"], vecs, [{}, {}, {}])
        hits = index.search(unit([1, 0, 0]), 5, ids=["b", "c"])
        assert [h.chunk_id for h in hits] == ["b", "c"]
        assert index.search(unit([1, 0, 0]), 5, ids=[]) == []

    def test_empty_index_search(self, index):
        assert index.search(unit([1, 0, 0]), 3) == []
        assert index.count() == 0

    def test_large_batch_upsert_respects_backend_limit(self, index):
        n = index._batch + 7
        rng = np.random.default_rng(0)
        vecs = rng.normal(size=(n, 8)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        index.upsert([f"id{i}" for i in range(n)], vecs, [{"i": i} for i in range(n)])
        assert index.count() == n

    def test_drop_twice_is_fine_and_a_real_failure_is_raised(self, index, monkeypatch):
        from ragkit.errors import BackendError

        index.upsert(["a"], np.stack([unit([1, 0, 0])]), [{}])
        index.drop()
        index.drop()  # already gone: nothing to do

        def broken(name):
            raise RuntimeError("disk gone")

        monkeypatch.setattr(index.client, "delete_collection", broken)
        with pytest.raises(BackendError, match="disk gone"):  # the manifest rows must not be deleted after this
            index.drop()


class ParserContract:
    """A parser (ingest.parsers.base.Parser): a subclass sets `source` (a real file of its format),
    `phrase` (words the file holds), and may set `garbage` (bytes of the right name that are not
    that format; None where any bytes are valid, as for plain text)."""

    source: str
    phrase: str
    garbage: bytes | None = b"\x00\x01 not this format \xff\xfe" * 64

    @pytest.fixture
    def data(self):
        from pathlib import Path

        return (Path(__file__).resolve().parent.parent / self.source).read_bytes()

    def _parse(self, data: bytes, name: str):
        from ingest.parsers import parse_bytes
        from ingest.parsers.base import ParseLimits

        return parse_bytes(data, name, ParseLimits())

    @property
    def name(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    def test_parses_its_text_under_the_given_source(self, data):
        result = self._parse(data, self.name)
        assert result.documents
        first = result.documents[0]
        assert first.source.startswith(self.name) and first.doc_type and first.blocks
        assert " ".join(self.phrase.split()).lower() in " ".join(" ".join(d.text for d in result.documents).split()).lower()
        assert all(b.text.strip() for d in result.documents for b in d.blocks)

    def test_the_same_bytes_give_the_same_documents(self, data):
        a, b = self._parse(data, self.name), self._parse(data, self.name)
        assert [(d.source, d.text, d.title) for d in a.documents] == [(d.source, d.text, d.title) for d in b.documents]

    def test_bad_or_empty_bytes_are_a_skip_or_a_failure_never_a_crash(self):
        from ingest.parsers.base import ParseFailure, SkipFile

        for bad in ([b""] + ([self.garbage] if self.garbage is not None else [])):
            try:
                result = self._parse(bad, self.name)
            except (SkipFile, ParseFailure) as e:
                assert str(e)
            else:  # accepted only if it really holds text
                assert all(d.text.strip() for d in result.documents)


TINY_QUESTION = "How many amps does the Osprey 4 draw at full load?"
TINY_SOURCES = {"osprey-4-manual.md", "travel-policy.txt", "support.md"}


class MethodContract:
    """Every method of ragkit.methods on the tiny corpus: a subclass provides `kb` (a knowledge base
    whose `default` collection holds tests.conftest.TINY_CORPUS, max_tokens 16) and `kb_with`
    (a factory for one with more settings)."""

    @pytest.fixture
    def kb(self):
        raise NotImplementedError

    @pytest.mark.parametrize("method", ["closed-book", "rag", "long-context", "self-route"])
    def test_each_method_answers_in_its_shape(self, kb, method):
        from ragkit.methods import METHODS

        a = kb.collection("default").ask(TINY_QUESTION, method=method)
        assert a.method == method and isinstance(a.answer, str) and a.answer
        assert 0 < a.usage.completion_tokens <= 16 and a.usage.prompt_tokens > 0
        assert a.latency_ms > 0
        assert METHODS[method].uses_retrieval == ("retrieved" in a.details)
        if method == "closed-book":
            assert a.citations == []
        else:
            assert a.citations and all(c.source in TINY_SOURCES for c in a.citations)
            assert a.details["evidence"]["text"]
        as_json = a.to_dict()["details"]  # only what the method set: another method's keys are absent, not null
        assert ("evidence" in as_json) == (method != "closed-book")
        assert ("context_tokens" in as_json) == (method == "long-context" or as_json.get("route") == "long-context")
        assert "shown" not in as_json or method in ("rag", "self-route")

    def test_rag_shows_top_chunks_and_cites_sources(self, kb):
        a = kb.collection("default").ask("How long is the Osprey 4 warranty?", method="rag")
        assert a.details["retrieved"][0]["source"] == "osprey-4-manual.md"
        assert a.details["shown"] == 3
        assert {c.n for c in a.citations} <= {1, 2, 3}
        cited = [c for c in a.citations if c.cited]
        assert not cited or cited[0].chunk_id  # a cited [n] maps back to its chunk

    def test_long_context_never_exceeds_the_window(self, kb_with):
        question = "What is the hotel limit in Lisbon?"
        with kb_with() as kb:
            full = kb.collection("default").ask(question, method="long-context")
            assert full.details["documents_in_context"] == 3 and full.details["corpus_fraction_in_context"] == 1.0
        window = max(256, full.usage.prompt_tokens + 16 - full.details["corpus_tokens"] // 2)  # room for about half the corpus
        with kb_with(long_context_tokens=window) as kb:
            a = kb.collection("default").ask(question, method="long-context")
            d = a.details
            assert a.usage.prompt_tokens + 16 <= window
            assert 1 <= d["documents_in_context"] <= 3
            assert 0 < d["corpus_fraction_in_context"] < 1
            assert d["sources_in_context"][0] == "travel-policy.txt"

    def test_self_route_takes_each_route(self, kb_with):
        # groundedness check off: this case is about routing, not about what the model says
        with kb_with(abstain_min_grounded=0.0) as kb:
            a = kb.collection("default").ask("How many amps does the Osprey 4 draw?", method="self-route")
            assert a.details["route"] == "rag" and not a.abstained
        # evidence so weak rag must abstain: the long-context route answers
        with kb_with(abstain_min_dense=0.99) as kb:
            b = kb.collection("default").ask("How many amps does the Osprey 4 draw?", method="self-route")
            assert b.details["route"] == "long-context"
            assert b.details["rag_abstain_reason"] == "weak_evidence"
            assert b.details["documents_in_context"] >= 1

    def test_adapter_methods_without_adapter_say_how_to_train(self, kb):
        from ragkit.errors import NotFound

        for method in ("lora", "lora-rag"):
            with pytest.raises(NotFound, match="ragkit finetune"):
                kb.collection("default").ask("anything", method=method)
        result = kb.collection("default").compare("How long is the warranty?", methods=["rag", "lora"])
        assert result.results[0].method == "rag" and result.results[0].answer
        assert result.results[1].error["code"] == "adapter_not_found"
