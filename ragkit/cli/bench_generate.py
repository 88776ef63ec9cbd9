"""`ragkit bench generate`: generator speed (local or llamacpp) — load (cold, cached), decode, prefill, LoRA training step."""

from __future__ import annotations

import logging
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ragkit.cli.common import JsonOpt, run
from ragkit.errors import ModelError
from ragkit.types import ProgressFn, no_progress

log = logging.getLogger(__name__)


# plain prose for prompts; repeated until a prompt reaches the token count asked for
FILLER = (
    "The Osprey 4 is the fourth-generation cordless drill made by Kestrel Tools. At full load it draws "
    "2.8 A from its 18 V battery pack, and every unit carries a warranty of 36 months from the date of "
    "purchase. The support desk answers calls from 07:30 to 18:00, Monday to Friday. "
)
SHORT_PROMPT = "Write a short paragraph about cordless drills."


def _prompt_of(tok, n_tokens: int) -> str:
    """Prose whose chat-formatted prompt is about `n_tokens` tokens long."""
    ids = tok.encode(FILLER * (n_tokens // 40 + 2), add_special_tokens=False)
    overhead = len(tok.apply_chat_template([{"role": "user", "content": ""}], add_generation_prompt=True))
    return tok.decode(ids[: max(1, n_tokens - overhead)])


def _generate_seconds(model, tok, text: str, new_tokens: int) -> tuple[float, int]:
    """Seconds to generate exactly `new_tokens` tokens greedily (EOS suppressed), and the prompt's length."""
    import torch

    inputs = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt", return_dict=True)
    kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, temperature=None, top_p=None, top_k=None, pad_token_id=tok.pad_token_id)
    with torch.inference_mode():
        t0 = time.perf_counter()
        out = model.generate(**inputs, **kwargs)
        seconds = time.perf_counter() - t0
    n_prompt = int(inputs["input_ids"].shape[1])
    if out.shape[1] - n_prompt != new_tokens:
        raise ModelError(f"the model generated {out.shape[1] - n_prompt} tokens, not the {new_tokens} asked for")
    return seconds, n_prompt


def _lora_seconds_per_step(model, vocab_size: int, steps: int) -> float:
    """Mean seconds of a LoRA training step (forward, backward, AdamW) after one untimed warm-up step.

    Same adapter and batch shape as `ragkit finetune` (LoraSettings): full-length rows of random
    token ids, since speed does not depend on which tokens they are.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    from ragkit.finetune.train import LoraSettings

    lora = LoraSettings()
    torch.manual_seed(lora.seed)
    config = LoraConfig(r=lora.rank, lora_alpha=lora.lora_alpha, lora_dropout=lora.dropout, target_modules=list(lora.target_modules), task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=lora.lr)
    ids = torch.randint(0, vocab_size, (lora.batch_size, lora.max_length))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}
    peft_model.train()

    def step() -> None:
        loss = peft_model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step()  # warm-up: allocator and autograd graph set-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def _rates(generator: str, load_cold: float, load_cached: float, decode: float, prefill: float, lora_step: float | None) -> dict:
    """The JSON keys every generator's run reports, in one shape."""
    return {
        "generator": generator,
        "load_cold_s": round(load_cold, 3),
        "load_cached_s": round(load_cached, 3),
        "decode_tokens_per_s": round(decode, 2),
        "prefill_tokens_per_s": round(prefill, 2),
        "lora_s_per_step": round(lora_step, 3) if lora_step is not None else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def bench_generate_run(
    model_path: Path | None = None,
    *,
    decode_tokens: int = 64,
    prefill_tokens: int = 1000,
    lora_steps: int = 3,
    threads: int | None = None,
    progress: ProgressFn | None = None,
) -> dict:
    """Measure the local (transformers) generator; the cold load dequantizes into a fresh temporary cache."""
    from ragkit.generation.local import LocalGenerator
    from ragkit.process_defaults import apply_defaults
    from ragkit.settings import load_settings

    apply_defaults()
    progress = progress or no_progress
    source = model_path or load_settings().llm_path
    cache = Path(tempfile.mkdtemp(prefix="ragkit-bench-cache-"))
    try:
        progress("cold load", 0, 5)
        cold = LocalGenerator(source, cache, threads=threads)
        cold._ensure()
        load_cold = cold.load_seconds
        del cold
        progress("cached load", 1, 5)
        warm = LocalGenerator(source, cache, threads=threads)
        model, tok = warm._ensure()
        load_cached = warm.load_seconds
        _generate_seconds(model, tok, SHORT_PROMPT, 2)  # warm-up
        progress("decode", 2, 5)
        first, short_len = _generate_seconds(model, tok, SHORT_PROMPT, 1)
        total, _ = _generate_seconds(model, tok, SHORT_PROMPT, decode_tokens)
        # the first token carries the prompt's prefill; the rest are pure decode steps
        decode_rate = (decode_tokens - 1) / (total - first) if decode_tokens > 1 and total > first else decode_tokens / total
        progress("prefill", 3, 5)
        ttft, long_len = _generate_seconds(model, tok, _prompt_of(tok, prefill_tokens), 1)
        progress("lora", 4, 5)
        lora_step = _lora_seconds_per_step(model, model.get_input_embeddings().num_embeddings, lora_steps) if lora_steps > 0 else None
        progress("done", 5, 5)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    import torch

    from ragkit.finetune.train import LoraSettings

    lora = LoraSettings()
    return {
        **_rates("local", load_cold, load_cached, decode_rate, long_len / ttft, lora_step),
        "settings": {
            "model": str(warm.source),
            "cached_load_from_cache": warm.loaded_from_cache,
            "threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "dtype": "float32",
            "decode_tokens": decode_tokens,
            "decode_prompt_tokens": short_len,
            "prefill_prompt_tokens": long_len,
            "time_to_first_token_s": round(ttft, 3),
            "lora_steps": lora_steps,
            "lora": {"rank": lora.rank, "alpha": lora.lora_alpha, "batch_size": lora.batch_size, "max_length": lora.max_length, "target_modules": list(lora.target_modules)},
        },
    }


def bench_llamacpp_run(
    model_path: Path | None = None, *, decode_tokens: int = 64, prefill_tokens: int = 1000, threads: int | None = None, progress: ProgressFn | None = None
) -> dict:
    """Measure the llamacpp generator with the same prompts and keys as `local`; training stays on torch (no LoRA step)."""
    from llama_cpp import LogitsProcessorList

    from ragkit.generation.base import Message
    from ragkit.generation.llamacpp import LlamaCppGenerator
    from ragkit.settings import load_settings

    progress = progress or no_progress
    source = model_path or load_settings().llm_path
    progress("cold load", 0, 4)
    cold = LlamaCppGenerator(source, threads=threads)
    cold.llama
    load_cold = cold.load_seconds
    del cold
    progress("cached load", 1, 4)
    gen = LlamaCppGenerator(source, threads=threads)
    llm = gen.llama
    load_cached = gen.load_seconds
    eos = llm.token_eos()

    def no_eos(_ids, scores):  # exactly the tokens asked for, as `local`'s min_new_tokens does
        scores[eos] = -float("inf")
        return scores

    def seconds(text: str, new_tokens: int) -> tuple[float, int]:
        tokens = gen._prompt_tokens(gen._format([Message("user", text)])[0])
        llm.reset()
        t0 = time.perf_counter()
        out = llm.create_completion(tokens, max_tokens=new_tokens, temperature=0.0, top_k=1, logits_processor=LogitsProcessorList([no_eos]))
        elapsed = time.perf_counter() - t0
        if out["usage"]["completion_tokens"] != new_tokens:
            raise ModelError(f"llama.cpp generated {out['usage']['completion_tokens']} tokens, not the {new_tokens} asked for")
        return elapsed, len(tokens)

    class _Tok:  # _prompt_of's view of llama.cpp's tokenizer
        def encode(self, text, add_special_tokens=False):
            return llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

        def decode(self, ids):
            return llm.detokenize(ids).decode("utf-8", "ignore")

        def apply_chat_template(self, messages, add_generation_prompt=True):
            return gen._prompt_tokens(gen._format([Message(m["role"], m["content"]) for m in messages])[0])

    seconds(SHORT_PROMPT, 2)  # warm-up
    progress("decode", 2, 4)
    first, short_len = seconds(SHORT_PROMPT, 1)
    total, _ = seconds(SHORT_PROMPT, decode_tokens)
    decode_rate = (decode_tokens - 1) / (total - first) if decode_tokens > 1 and total > first else decode_tokens / total
    progress("prefill", 3, 4)
    ttft, long_len = seconds(_prompt_of(_Tok(), prefill_tokens), 1)
    progress("done", 4, 4)
    import llama_cpp

    return {
        **_rates("llamacpp", load_cold, load_cached, decode_rate, long_len / ttft, None),
        "settings": {
            "model": str(gen.source),
            "threads": gen.threads,
            "cpu_count": os.cpu_count(),
            "llama_cpp_python": llama_cpp.__version__,
            "system_info": llama_cpp.llama_print_system_info().decode().strip(),
            "decode_tokens": decode_tokens,
            "decode_prompt_tokens": short_len,
            "prefill_prompt_tokens": long_len,
            "time_to_first_token_s": round(ttft, 3),
        },
    }


def bench_generate(
    generator: Annotated[Optional[str], typer.Option("--generator", help="local | llamacpp (default: RAGKIT_GENERATOR when it is one of them, else local).")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="A GGUF file or model folder (default RAGKIT_LLM_PATH, else the bundled SmolLM2).")] = None,
    decode_tokens: Annotated[int, typer.Option("--decode-tokens", min=1, help="New tokens generated for the decode rate.")] = 64,
    prefill_tokens: Annotated[int, typer.Option("--prefill-tokens", min=16, help="Prompt length for the prefill rate.")] = 1000,
    lora_steps: Annotated[int, typer.Option("--lora-steps", min=0, help="Timed LoRA steps after one warm-up (0: skip; local only).")] = 3,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="Threads (default: every core).")] = None,
    as_json: JsonOpt = True,
) -> None:
    """Generator speed: cold and cached load, decode and prefill tokens/s, LoRA seconds per step (local)."""

    def action():
        from ragkit.errors import UsageError
        from ragkit.process_defaults import apply_defaults
        from ragkit.settings import load_settings

        apply_defaults()
        configured = load_settings().generator
        name = generator or (configured if configured in ("local", "llamacpp") else "local")
        if name == "llamacpp":
            return bench_llamacpp_run(model, decode_tokens=decode_tokens, prefill_tokens=prefill_tokens, threads=threads)
        if name != "local":
            raise UsageError(f"--generator must be local or llamacpp, not {name!r}", code="invalid_generator")
        return bench_generate_run(model, decode_tokens=decode_tokens, prefill_tokens=prefill_tokens, lora_steps=lora_steps, threads=threads)

    run(True, action)


def register(bench_app: typer.Typer) -> None:
    """Mount `generate` on the `bench` group."""
    bench_app.command("generate")(bench_generate)
