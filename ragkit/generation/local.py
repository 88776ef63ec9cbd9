"""Local generation with transformers; the default model is the bundled SmolLM2 GGUF.

It runs on a CUDA GPU when torch sees one (float32 either way, so answers match the CPU's up to
rounding), else on every CPU core.

A GGUF file is dequantized once (about 12 s for SmolLM2) and cached as safetensors under
RAGKIT_CACHE_DIR, so later loads take well under a second. LoRA adapters (peft) load on demand
and are switched per call; `adapter=None` always runs the plain base model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Sequence

from ragkit.errors import ConfigError, ModelError
from ragkit.generation.base import Completion, ContinuationScore, Message, cut_at_stop
from ragkit.model_paths import torch_device

log = logging.getLogger(__name__)


def cached_model_dir(gguf: Path, cache_dir: Path) -> Path:
    """Where the dequantized copy of a GGUF file lives (keyed by its name, size and mtime)."""
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]
    return cache_dir / "models" / f"{gguf.stem}-{key}"


class LocalGenerator:
    """transformers CausalLM, greedy by default, on every core; loaded lazily, once."""

    remote = False

    def __init__(self, model_path: Path | None, cache_dir: Path, threads: int | None = None):
        from ragkit.model_paths import bundled_llm_path

        self.source = Path(model_path) if model_path else bundled_llm_path()
        if not self.source.exists():
            raise ConfigError(f"RAGKIT_LLM_PATH {self.source} does not exist (a local model folder or a .gguf file)")
        self.cache_dir = Path(cache_dir)
        self.model_id = self.source.stem if self.source.suffix == ".gguf" else self.source.name
        self.threads = threads or os.cpu_count() or 1
        self._model = None
        self._tokenizer = None
        self._adapters: dict[str, Path] = {}
        self._lock = threading.RLock()
        self.load_seconds: float | None = None
        self.loaded_from_cache: bool | None = None
        self.device: str | None = None  # "cuda" or "cpu", known once loaded

    # -- loading -------------------------------------------------------------------------------

    def _ensure(self):
        with self._lock:
            if self._model is None:
                import time

                t0 = time.perf_counter()
                self._model, self._tokenizer = self._load()
                self.load_seconds = time.perf_counter() - t0
            return self._model, self._tokenizer

    def _load(self):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(self.threads)
        try:
            if self.source.suffix == ".gguf":
                folder = cached_model_dir(self.source, self.cache_dir)
                if (folder / "config.json").exists():
                    self.loaded_from_cache = True
                    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True)
                    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
                else:
                    self.loaded_from_cache = False
                    model = AutoModelForCausalLM.from_pretrained(self.source.parent, gguf_file=self.source.name, dtype=torch.float32)
                    tok = AutoTokenizer.from_pretrained(self.source.parent, gguf_file=self.source.name)
                    self._save_cache(model, tok, folder)
            else:
                if not (self.source / "config.json").exists():
                    raise ConfigError(f"{self.source} is not a transformers model folder (no config.json)")
                self.loaded_from_cache = False
                model = AutoModelForCausalLM.from_pretrained(self.source, dtype=torch.float32, local_files_only=True)
                tok = AutoTokenizer.from_pretrained(self.source, local_files_only=True)
        except ConfigError:
            raise
        except Exception as e:
            raise ModelError(f"could not load the language model from {self.source}: {e}") from e
        self.device = torch_device()
        model.to(self.device).eval()
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        return model, tok

    @staticmethod
    def _save_cache(model, tok, folder: Path) -> None:
        """transformers refuses to save a GGUF-loaded model until its quantizer record is cleared."""
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        try:
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)
            tmp.rename(folder)
        except OSError as e:
            log.warning("could not cache the dequantized model in %s: %s", folder, e)

    @property
    def tokenizer(self):
        return self._ensure()[1]

    @property
    def model(self):
        return self._ensure()[0]

    @property
    def context_window(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def _prompt_ids(self, messages: Sequence[Message]):
        tok = self.tokenizer
        return tok.apply_chat_template([m.to_dict() for m in messages], add_generation_prompt=True, return_tensors="pt", return_dict=True)

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        return int(self._prompt_ids(messages)["input_ids"].shape[1])

    # -- adapters --------------------------------------------------------------------------------

    def _use_adapter(self, name: str | None, path: Path | None):
        """Activate a peft adapter (loading it on first use), or none. Returns the model to call."""
        model = self.model
        if name is None:
            if hasattr(model, "disable_adapter_layers") and self._adapters:
                model.disable_adapter_layers()
            return model
        if path is None:
            raise ModelError(f"adapter {name!r} has no path")
        from peft import PeftModel

        weights = Path(path) / "adapter_model.safetensors"
        stamp = weights.stat().st_mtime_ns if weights.exists() else 0
        # peft module names may not contain dots; a retrained adapter (new mtime) gets a new key
        key = "a" + hashlib.sha256(f"{name}\0{path}\0{stamp}".encode()).hexdigest()[:16]
        if key not in self._adapters:
            try:
                if not isinstance(model, PeftModel):
                    model = PeftModel.from_pretrained(model, str(path), adapter_name=key)
                    self._model = model
                else:
                    model.load_adapter(str(path), adapter_name=key)
            except Exception as e:
                raise ModelError(f"could not load adapter {name!r} from {path}: {e}") from e
            self._adapters[key] = Path(path)
        model.enable_adapter_layers()
        model.set_adapter(key)
        return model

    def unload_adapters(self) -> None:
        with self._lock:
            if self._adapters and hasattr(self._model, "unload"):
                self._model = self._model.unload()
            self._adapters.clear()

    # -- generation ------------------------------------------------------------------------------

    def generate(
        self,
        messages: Sequence[Message],
        max_tokens: int = 64,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        adapter: str | None = None,
        adapter_path: Path | None = None,
    ) -> Completion:
        import torch

        with self._lock:
            model = self._use_adapter(adapter, adapter_path)
            tok = self.tokenizer
            inputs = {k: v.to(model.device) for k, v in self._prompt_ids(messages).items()}
            n_prompt = int(inputs["input_ids"].shape[1])
            if n_prompt + max_tokens > self.context_window:
                raise ModelError(
                    f"prompt of {n_prompt} tokens plus {max_tokens} answer tokens exceeds the model's window of {self.context_window}",
                    code="context_overflow",
                )
            kwargs = dict(max_new_tokens=max_tokens, pad_token_id=tok.pad_token_id)
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if stop:
                kwargs.update(stop_strings=list(stop), tokenizer=tok)
            with torch.inference_mode():
                out = model.generate(**inputs, **kwargs)
            new = out[0, n_prompt:]
            text = tok.decode(new, skip_special_tokens=True)
            text, stopped = cut_at_stop(text, stop)
            finish = "stop" if stopped or (len(new) < max_tokens) else "length"
            return Completion(text=text.strip(), prompt_tokens=n_prompt, completion_tokens=int(len(new)), finish_reason=finish)

    def score(
        self, messages: Sequence[Message], continuations: Sequence[str], adapter: str | None = None, adapter_path: Path | None = None
    ) -> list[ContinuationScore]:
        """Log-probability of each continuation as the answer to the chat: the prompt runs once, then
        the continuations in one batch over copies of its KV cache."""
        import copy

        import torch

        if not continuations:
            return []
        with self._lock:
            model = self._use_adapter(adapter, adapter_path)
            tok = self.tokenizer
            prompt = self._prompt_ids(messages)["input_ids"].to(model.device)
            n_prompt = int(prompt.shape[1])
            ids = [tok.encode(c, add_special_tokens=False) or [tok.eos_token_id] for c in continuations]
            width = max(len(x) for x in ids)
            if n_prompt + width > self.context_window:
                raise ModelError(f"prompt of {n_prompt} tokens plus a {width}-token answer exceeds the model's window of {self.context_window}", code="context_overflow")
            pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
            with torch.inference_mode():
                head = model(input_ids=prompt, use_cache=True)
                first = torch.log_softmax(head.logits[0, -1].float(), dim=-1)
                out: list[ContinuationScore] = []
                for start in range(0, len(ids), 16):
                    group = ids[start : start + 16]
                    batch = torch.full((len(group), width), pad, dtype=torch.long)
                    for i, x in enumerate(group):
                        batch[i, : len(x)] = torch.tensor(x)
                    cache = copy.deepcopy(head.cache)
                    cache.batch_repeat_interleave(len(group))
                    positions = torch.arange(n_prompt, n_prompt + width).unsqueeze(0).expand(len(group), -1)
                    logits = model(input_ids=batch.to(model.device), cache=cache, position_ids=positions.to(model.device), use_cache=True).logits
                    logp = torch.log_softmax(logits.float(), dim=-1)
                    for i, x in enumerate(group):
                        total = float(first[x[0]])  # right padding: a continuation's own tokens see only the prompt and themselves
                        for t in range(1, len(x)):
                            total += float(logp[i, t - 1, x[t]])
                        out.append(ContinuationScore(logprob=total, tokens=len(x)))
            return out


def from_settings(settings) -> LocalGenerator:
    """The `local` entry of the generator registry."""
    return LocalGenerator(settings.llm_path, settings.cache_dir, threads=settings.llm_threads)
