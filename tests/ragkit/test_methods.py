"""Every method with the real SmolLM2 on a tiny corpus (max_tokens 16), fine-tuning, and generator errors."""

from __future__ import annotations

import json

import pytest

import ragkit
from ragkit.errors import BackendError, ConfigError
from ragkit.generation.base import Message
from ragkit.generation.openai_compat import OpenAIGenerator
from ragkit.methods import METHODS
from ragkit.net import is_loopback_url as is_loopback
from tests.conftest import free_port
from tests.contracts import GeneratorContract, MethodContract

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory, model_cache):
    from tests.conftest import write_corpus

    root = tmp_path_factory.mktemp("methods")
    corpus = write_corpus(root / "corpus")
    home = root / "home"
    with ragkit.open(home, cache_dir=model_cache) as kb:
        kb.collection("default").ingest(corpus)
    return home


@pytest.fixture
def kb(tiny_home, model_cache):
    with ragkit.open(tiny_home, cache_dir=model_cache, max_tokens=16) as kb:
        yield kb


class TestMethodsOnSmolLM2(MethodContract):
    """The method contract with the real MiniLM and SmolLM2 (the fakes run it in the default tier)."""

    @pytest.fixture
    def kb(self, tiny_home, model_cache):
        with ragkit.open(tiny_home, cache_dir=model_cache, max_tokens=16) as kb:
            yield kb

    @pytest.fixture
    def kb_with(self, tiny_home, model_cache):
        return lambda **settings: ragkit.open(tiny_home, cache_dir=model_cache, max_tokens=16, **settings)


def test_finetune_lowers_loss_saves_reloads_and_changes_output(tmp_path, tiny_home, model_cache):
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps({"question": f"What colour is gadget {i}?", "answer": "Zorbleen violet"}) for i in range(8)))
    evalset = tmp_path / "eval.jsonl"
    evalset.write_text(json.dumps({"id": "e1", "question": "What colour is gadget 3?", "answer": "x"}) + "\n")
    with ragkit.open(tiny_home, cache_dir=model_cache, max_tokens=16) as kb:
        col = kb.collection("default")
        before = col.ask("What colour is gadget 5?", method="closed-book").answer
        r = col.finetune(name="t1", data=["qa"], train_qa=str(qa), exclude_eval=str(evalset), steps=8)
        assert r.excluded == 1 and r.examples == 7  # the planted eval question is not trained on
        assert r.loss_last < r.loss_first
        assert r.steps == 8
        listed = kb.adapters.list("default")
        assert [a.name for a in listed] == ["t1"] and not listed[0].stale
        after = col.ask("What colour is gadget 5?", method="lora", adapter="t1")
        assert after.details["adapter"] == "t1"
        assert after.answer != before
        assert "zorbleen" in after.answer.lower()
        rag = col.ask("What colour is gadget 5?", method="lora-rag", adapter="t1")
        assert rag.citations
    # a fresh process-like open reloads the saved adapter from disk
    with ragkit.open(tiny_home, cache_dir=model_cache, max_tokens=16) as kb:
        again = kb.collection("default").ask("What colour is gadget 5?", method="lora", adapter="t1")
        assert again.answer == after.answer


def test_interrupted_finetune_resumes(tmp_path, tiny_home, model_cache, monkeypatch):
    from ragkit.finetune import train

    with ragkit.open(tiny_home, cache_dir=model_cache) as kb:
        calls = {"n": 0}
        original = train._write_checkpoint

        def crash_after_checkpoint(*args, **kwargs):
            original(*args, **kwargs)
            calls["n"] += 1
            raise KeyboardInterrupt

        monkeypatch.setattr(train, "_write_checkpoint", crash_after_checkpoint)
        with pytest.raises(KeyboardInterrupt):
            kb.collection("default").finetune(name="resume", data=["raw"], steps=7)
        monkeypatch.setattr(train, "_write_checkpoint", original)
        result = kb.collection("default").finetune(name="resume", data=["raw"], steps=7)
        assert calls["n"] == 1
        assert result.resumed_from == 5 and result.steps == 7
        record = json.loads((kb.adapters.folder("default", "resume") / "ragkit.json").read_text())
        assert len(record["loss_curve"]) == 7


def test_stale_adapter_after_delete(tmp_path, model_cache):
    from tests.conftest import write_corpus

    with ragkit.open(tmp_path / "h", cache_dir=model_cache) as kb:
        col = kb.collection("default")
        col.ingest(write_corpus(tmp_path / "c"))
        col.finetune(name="s", data=["raw"], steps=1)
        assert not kb.adapters.get("default", "s").stale
        col.delete_document("support.md")
        assert kb.adapters.get("default", "s").stale


def test_bad_model_path_is_a_clear_error(tmp_path):
    with ragkit.open(tmp_path / "h", llm_path=tmp_path / "missing.gguf") as kb:
        with pytest.raises(ConfigError, match="missing.gguf"):
            kb.generator


def test_dead_server_is_a_clear_error():
    port = free_port()
    gen = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", "m")
    with pytest.raises(BackendError, match="cannot reach"):
        gen.generate([Message("user", "hi")], max_tokens=4)


def test_remote_server_needs_the_allow_flag():
    assert is_loopback("http://127.0.0.1:8080/v1") and is_loopback("http://localhost:1/v1")
    assert not is_loopback("http://10.1.2.3:8080/v1")
    with pytest.raises(ConfigError, match="RAGKIT_ALLOW_REMOTE"):
        OpenAIGenerator("http://10.1.2.3:8080/v1", "m")
    OpenAIGenerator("http://10.1.2.3:8080/v1", "m", allow_remote=True)  # allowed: nothing is sent yet


def test_method_names_match_spec():
    assert list(METHODS) == ["closed-book", "rag", "long-context", "lora", "lora-rag", "self-route"]


def test_synthetic_builder_writes_question_answer_pairs(kb):
    from ragkit.finetune.data import qa_to_examples, synthetic_examples

    pairs = synthetic_examples(kb, "default", max_chunks=3)
    assert pairs, "the generator wrote no parsable Q:/A: pair from three chunks"
    assert all(q.strip() and a.strip() for q, a in pairs)
    examples = qa_to_examples(pairs, "synthetic")
    assert all(e.kind == "synthetic" and e.question for e in examples)


@pytest.mark.slow
class TestLocalGenerator(GeneratorContract):
    """The same contract on transformers (the dequantized SmolLM2)."""

    @pytest.fixture
    def gen(self, model_cache):
        from ragkit.generation.local import LocalGenerator

        return LocalGenerator(None, model_cache)
