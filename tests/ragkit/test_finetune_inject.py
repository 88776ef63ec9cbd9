"""Knowledge injection on the real SmolLM2: a facts adapter recalls an invented fact; distillation trains and resumes."""

from __future__ import annotations

import json
import shutil
import os
import subprocess
import sys

import pytest

import ragkit
from tests.conftest import write_corpus

pytestmark = pytest.mark.slow

INVENTED = {
    "zanthor.md": """# Zanthor Mechanics

Zanthor Mechanics was founded in 1987 by Ilse Marwood.

The Quellbar drill of Zanthor Mechanics has the ordering code QX-4471.
""",
}


def ragkit_cli(*args: str, home) -> dict:
    env = {**os.environ, "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "ragkit.cli", *args, "--home", str(home), "--json"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def invented_home(tmp_path_factory, model_cache):
    root = tmp_path_factory.mktemp("inject")
    home = root / "home"
    with ragkit.open(home, cache_dir=model_cache) as kb:
        kb.collection("default").ingest(write_corpus(root / "corpus", INVENTED))
    return home


def test_a_facts_adapter_answers_what_the_base_model_cannot(invented_home, model_cache, monkeypatch):
    from ragkit.finetune.facts import facts_of

    monkeypatch.setenv("RAGKIT_CACHE_DIR", str(model_cache))
    with ragkit.open(invented_home, cache_dir=model_cache) as kb:
        facts = facts_of(kb.manifest.all_chunks("default"))
    question = next(f.question for f in facts if f.answer == "Ilse Marwood")
    before = ragkit_cli("ask", question, "--method", "closed-book", home=invented_home)["answer"]
    assert "marwood" not in before.lower()
    trained = ragkit_cli("finetune", "--data", "facts", "--steps", "30", "--name", "facts", home=invented_home)
    assert trained["built"]["facts"] == trained["examples"] > 10 and trained["loss_last"] < trained["loss_first"]
    after = ragkit_cli("ask", question, "--method", "lora", "--adapter", "facts", home=invented_home)["answer"]
    assert "marwood" in after.lower(), (question, before, after)


def test_distillation_trains_mixed_with_facts_and_resumes(invented_home, model_cache, monkeypatch):
    from ragkit.finetune import train
    from ragkit.finetune.train import LoraSettings
    from ragkit.generation.local import LocalGenerator

    lora = LoraSettings(checkpoint_every=2, batch_size=2)
    shutil.rmtree(model_cache / "distill", ignore_errors=True)  # the teacher's answers of an earlier run of this test
    with ragkit.open(invented_home, cache_dir=model_cache) as kb:
        calls = {"checkpoints": 0, "teacher": 0}
        original_checkpoint, original_generate = train._write_checkpoint, LocalGenerator.generate

        def crash_after_checkpoint(*args, **kwargs):
            original_checkpoint(*args, **kwargs)
            calls["checkpoints"] += 1
            raise KeyboardInterrupt

        def counted_generate(self, *args, **kwargs):
            calls["teacher"] += 1
            return original_generate(self, *args, **kwargs)

        monkeypatch.setattr(train, "_write_checkpoint", crash_after_checkpoint)
        monkeypatch.setattr(LocalGenerator, "generate", counted_generate)
        with pytest.raises(KeyboardInterrupt):
            train.finetune(kb, "default", name="distill", data=["distill", "facts"], steps=3, lora=lora)
        generated = calls["teacher"]
        assert generated > 0
        monkeypatch.setattr(train, "_write_checkpoint", original_checkpoint)
        result = train.finetune(kb, "default", name="distill", data=["distill", "facts"], steps=3, lora=lora)
        assert calls["teacher"] == generated  # the teacher's answers came from the cache
        assert result.resumed_from == 2 and result.steps == 3
        assert result.built["distill"] > 0 and result.built["facts"] > 0
        record = json.loads((kb.adapters.folder("default", "distill") / "ragkit.json").read_text())
        assert len(record["loss_curve"]) == 3 and all(v == v and v >= 0 for v in record["loss_curve"])


def test_distill_loss_measures_what_the_chunk_adds(model_cache):
    """A fresh adapter (B = 0) is the base model, so KL(teacher || student) is zero when both read the
    same prompt and positive when only the teacher reads the chunk."""
    import torch
    from peft import LoraConfig, get_peft_model

    from ragkit.finetune.data import Example, _chat_prompt
    from ragkit.finetune.train import distill_loss, encode
    from ragkit.generation.local import LocalGenerator
    from ragkit.methods.prompts import SourceText, build_messages

    model, tok = LocalGenerator(None, model_cache)._load()
    model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    question = "Who founded Zanthor Mechanics?"
    source = [SourceText(n=1, source="zanthor.md", text=INVENTED["zanthor.md"])]
    with_chunk = Example("distill", _chat_prompt(build_messages(question, None)), "Ilse Marwood", question=question, teacher_prompt=_chat_prompt(build_messages(question, source)))
    same = Example("distill", with_chunk.prompt, "Ilse Marwood", question=question, teacher_prompt=with_chunk.prompt)
    with torch.no_grad():
        gap = float(distill_loss(model, tok, [encode(tok, with_chunk, 256, 1024)]))
        none = float(distill_loss(model, tok, [encode(tok, same, 256, 1024)]))
    assert none == pytest.approx(0.0, abs=1e-4)
    assert gap > 0.1
