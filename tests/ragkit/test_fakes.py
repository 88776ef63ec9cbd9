"""The deterministic fakes (ragkit.testing), chosen through the plugin registry, hold every contract
a real model does: the method contract and the generator contract run here without loading a model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import ragkit
from ragkit.errors import ConfigError
from ragkit.plugins import EMBEDDERS, GENERATORS
from ragkit.settings import load_settings
from ragkit.testing import FakeEmbedder, FakeGenerator
from tests.conftest import FAKE_MODELS, write_corpus
from tests.contracts import GeneratorContract, MethodContract


@pytest.fixture(scope="module")
def fake_home(tmp_path_factory):
    root = tmp_path_factory.mktemp("fakes")
    home = root / "home"
    with ragkit.open(home, **FAKE_MODELS) as kb:
        kb.collection("default").ingest(write_corpus(root / "corpus"))
    return home


class TestMethodsOnFakes(MethodContract):
    @pytest.fixture
    def kb(self, fake_home):
        with ragkit.open(fake_home, max_tokens=16, **FAKE_MODELS) as kb:
            yield kb

    @pytest.fixture
    def kb_with(self, fake_home):
        return lambda **settings: ragkit.open(fake_home, max_tokens=16, **FAKE_MODELS, **settings)


class TestFakeGenerator(GeneratorContract):
    @pytest.fixture
    def gen(self):
        return FakeGenerator()


def test_the_fakes_are_found_through_the_entry_points_like_any_plugin():
    from importlib.metadata import entry_points

    assert "fake" in {ep.name for ep in entry_points(group="ragkit.generators")}
    assert "fake" in {ep.name for ep in entry_points(group="ragkit.embedders")}
    s = load_settings(**FAKE_MODELS)
    assert isinstance(GENERATORS.get(s.generator)(s), FakeGenerator)
    assert isinstance(EMBEDDERS.get(s.embed_runtime)(s, None, None, "fake"), FakeEmbedder)


def test_an_unknown_name_lists_what_is_known():
    with pytest.raises(ConfigError, match="generator.*one of.*llamacpp, local.*telepathy"):
        load_settings(generator="telepathy")
    with pytest.raises(ConfigError, match="embed_runtime.*int8"):
        load_settings(embed_runtime="abacus")


def test_a_registered_generator_is_used_by_the_methods(tmp_path, fake_home):
    class Shouting(FakeGenerator):
        def generate(self, messages, **kw):
            out = super().generate(messages, **kw)
            return type(out)(out.text.upper(), out.prompt_tokens, out.completion_tokens)

    GENERATORS.register("shouting", lambda settings: Shouting())
    try:
        with ragkit.open(fake_home, generator="shouting", embed_runtime="fake", answer_policy="model") as kb:
            a = kb.collection("default").ask("How long is the Osprey 4 warranty?", method="rag")
        assert a.answer.isupper() and "36 MONTHS" in a.answer
    finally:
        GENERATORS.unregister("shouting")


def test_fake_vectors_are_deterministic_unit_and_lexical():
    e = FakeEmbedder()
    a = e.embed_documents(["The warranty lasts 36 months.", "Hotel costs are reimbursed up to 140 euros."])
    assert a.shape == (2, 384) and np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(a, e.embed_documents(["The warranty lasts 36 months.", "Hotel costs are reimbursed up to 140 euros."]))
    q = e.embed_query("how long is the warranty")
    assert float(a[0] @ q) > float(a[1] @ q)
    assert e.count_tokens("warranty") >= 1 and e.max_tokens == 254


def test_a_pipeline_on_the_fakes_loads_no_model_framework(tmp_path):
    """Ingest, query and answer on the fakes in a fresh process: torch and transformers never load."""
    corpus = write_corpus(tmp_path / "corpus")
    script = (
        "import sys, ragkit\n"
        f"kb = ragkit.open({str(tmp_path / 'home')!r}, generator='fake', embed_runtime='fake')\n"
        f"c = kb.collection('default'); c.ingest({str(corpus)!r})\n"
        "a = c.ask('How long is the Osprey 4 warranty?')\n"
        "assert '36 months' in a.answer, a\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
