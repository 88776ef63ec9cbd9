"""The llamacpp generator on the real bundled GGUF: answers, llama.cpp's own token counts, LoRA adapters converted to GGUF."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ragkit.errors import ConfigError, ModelError
from ragkit.generation import make_generator
from ragkit.settings import load_settings
from tests.contracts import QUESTION, GeneratorContract

pytest.importorskip("llama_cpp", reason="llama-cpp-python is part of the locked install")

from ragkit.generation.gguf_lora import gguf_lora_for  # noqa: E402
from ragkit.generation.llamacpp import LlamaCppGenerator  # noqa: E402


@pytest.fixture(scope="module")
def llama_gen() -> LlamaCppGenerator:
    return LlamaCppGenerator(None, threads=2)


def write_adapter(folder: Path, base: Path, seed: int, scale: float = 0.05) -> Path:
    """A peft-format LoRA on q/k/v/o of every layer with random A and B (what peft saves), shaped from the base GGUF."""
    from gguf import GGUFReader
    from safetensors.numpy import save_file

    shapes = {t.name: [int(d) for d in t.shape] for t in GGUFReader(str(base)).tensors}  # ggml order: [in, out]
    rng = np.random.default_rng(seed)
    tensors = {}
    layers = sorted({int(n.split(".")[1]) for n in shapes if n.startswith("blk.")})
    for layer in layers:
        for module, gguf_name in (("q_proj", "attn_q"), ("k_proj", "attn_k"), ("v_proj", "attn_v"), ("o_proj", "attn_output")):
            n_in, n_out = shapes[f"blk.{layer}.{gguf_name}.weight"]
            key = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            tensors[f"{key}.lora_A.weight"] = (rng.standard_normal((8, n_in)) * scale).astype(np.float32)
            tensors[f"{key}.lora_B.weight"] = (rng.standard_normal((n_out, 8)) * scale).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"], "peft_type": "LORA"}))
    return folder


class TestLlamaCppGenerator(GeneratorContract):
    @pytest.fixture
    def gen(self, llama_gen):
        return llama_gen

    def test_window_and_tokens_come_from_the_gguf(self, gen):
        assert gen.context_window == 8192  # SmolLM2's window, read from the GGUF
        assert gen.count_tokens("hello world") == 2


def test_an_adapter_changes_the_output_and_a_changed_adapter_is_reconverted(llama_gen, tmp_path):
    gen = llama_gen
    base = gen.generate(QUESTION, max_tokens=12).text
    folder = write_adapter(tmp_path / "ad", gen.source, seed=1)
    first = gen.generate(QUESTION, max_tokens=12, adapter="ad", adapter_path=folder).text
    assert first != base
    converted = list(folder.glob("lora-*.gguf"))
    assert len(converted) == 1
    assert gen.generate(QUESTION, max_tokens=12, adapter="ad", adapter_path=folder).text == first  # cached conversion and context
    assert list(folder.glob("lora-*.gguf")) == converted
    write_adapter(folder, gen.source, seed=2, scale=0.08)  # retrained in place
    st = (folder / "adapter_model.safetensors").stat()
    os.utime(folder / "adapter_model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    second = gen.generate(QUESTION, max_tokens=12, adapter="ad", adapter_path=folder).text
    now = list(folder.glob("lora-*.gguf"))
    assert len(now) == 1 and now != converted  # the old conversion went with the old weights
    assert second != first
    assert gen.generate(QUESTION, max_tokens=12).text == base  # the base context is untouched
    gen.unload_adapters()


def test_a_folder_that_is_no_adapter_is_named(llama_gen, tmp_path):
    gen = llama_gen
    with pytest.raises(ModelError, match="is not a peft adapter"):
        gguf_lora_for(tmp_path, gen.source)


def test_the_settings_choose_it_and_check_the_model_path(tmp_path):
    assert isinstance(make_generator(load_settings(home=tmp_path, generator="llamacpp")), LlamaCppGenerator)
    with pytest.raises(ConfigError, match="does not exist"):
        LlamaCppGenerator(tmp_path / "missing.gguf")
    (tmp_path / "model").mkdir()
    with pytest.raises(ConfigError, match="reads a .gguf file"):
        LlamaCppGenerator(tmp_path / "model")


def test_rag_answers_through_llamacpp_end_to_end(corpus, home):
    import ragkit

    with ragkit.open(home, generator="llamacpp", max_tokens=16) as kb:
        col = kb.collection("docs")
        col.ingest(corpus)
        answer = col.ask("How long is the warranty?", method="rag")
    assert answer.method == "rag" and answer.answer
    assert answer.usage.prompt_tokens > 50 and 0 < answer.usage.completion_tokens <= 16
    assert answer.citations
