"""Generation with llama.cpp in this process (llama-cpp-python), reading a GGUF file directly.

The default model is the bundled SmolLM2 GGUF, quantized as shipped: no dequantized copy, a
load of about a tenth of a second. The prompt is the model's own chat template (from the GGUF's
metadata), counted with llama.cpp's tokenizer, decoded greedily like `local`. A peft adapter runs
as a GGUF LoRA converted once beside it (`gguf_lora.py`); each adapter gets its own llama.cpp
context, kept while the generator lives.

Every call starts from an empty KV cache. llama.cpp can keep the previous prompt's cache and
evaluate only what follows the shared prefix, but the prefix then goes through the model in
other batch shapes than in a fresh run, and on a near-tie the greedy answer changed with the
prompt asked before it (seen here with an adapter): a comparison of methods must not depend on
the order of its questions.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Sequence

from ragkit.errors import ConfigError, ModelError
from ragkit.generation.base import Completion, ContinuationScore, Message, cut_at_stop

log = logging.getLogger(__name__)


class LlamaCppGenerator:
    """llama.cpp over one GGUF model, greedy by default; contexts made lazily, one per adapter."""

    remote = False
    device = "cpu"

    def __init__(self, model_path: Path | None, threads: int | None = None, n_ctx: int | None = None):
        from ragkit.model_paths import bundled_llm_path

        self.source = Path(model_path) if model_path else bundled_llm_path()
        if not self.source.exists():
            raise ConfigError(f"RAGKIT_LLM_PATH {self.source} does not exist (generator llamacpp reads a .gguf file)")
        if self.source.suffix != ".gguf":
            raise ConfigError(f"generator llamacpp reads a .gguf file, not {self.source}; use generator local for a transformers folder")
        self.model_id = self.source.stem
        self.threads = threads or os.cpu_count() or 1
        self._n_ctx = n_ctx
        self._contexts: dict[Path | None, object] = {}
        self._formatter = None
        self._lock = threading.RLock()
        self.load_seconds: float | None = None

    # -- loading -------------------------------------------------------------------------------

    def _llama(self, lora: Path | None = None):
        with self._lock:
            if lora not in self._contexts:
                import time

                try:
                    from llama_cpp import Llama
                except ImportError as e:
                    raise ConfigError("generator llamacpp needs llama-cpp-python (installed by `make setup`)") from e
                t0 = time.perf_counter()
                try:
                    llm = Llama(
                        model_path=str(self.source),
                        n_ctx=self._n_ctx or 0,  # 0: the model's own training window
                        n_threads=self.threads,
                        n_threads_batch=self.threads,
                        lora_path=str(lora) if lora else None,
                        seed=0,
                        verbose=False,
                    )
                except Exception as e:
                    what = f" with the LoRA {lora}" if lora else ""
                    raise ModelError(f"llama.cpp could not load {self.source}{what}: {e}") from e
                if lora is None:
                    self.load_seconds = time.perf_counter() - t0
                self._contexts[lora] = llm
            return self._contexts[lora]

    @property
    def llama(self):
        """The base model's llama.cpp context."""
        return self._llama(None)

    @property
    def context_window(self) -> int:
        return int(self.llama.n_ctx())

    def _format(self, messages: Sequence[Message]) -> tuple[str, list[str]]:
        """The prompt through the model's chat template, and the template's own stop strings."""
        with self._lock:
            if self._formatter is None:
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                llm = self.llama
                template = llm.metadata.get("tokenizer.chat_template")
                if not template:
                    raise ModelError(f"{self.source} has no chat template in its metadata")
                eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "ignore")
                bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "ignore") if llm.token_bos() >= 0 else ""
                self._formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos, add_generation_prompt=True)
            result = self._formatter(messages=[m.to_dict() for m in messages])
        stops = result.stop if isinstance(result.stop, list) else ([result.stop] if result.stop else [])
        return result.prompt, stops

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _prompt_tokens(self, prompt: str) -> list[int]:
        return self.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        return len(self._prompt_tokens(self._format(messages)[0]))

    def unload_adapters(self) -> None:
        """Forget every adapter context (a retrained adapter of the same name must reload)."""
        with self._lock:
            for key in [k for k in self._contexts if k is not None]:
                self._contexts.pop(key).close()

    # -- generation ------------------------------------------------------------------------------

    def _lora_for(self, adapter: str | None, adapter_path: Path | None) -> Path | None:
        """The GGUF LoRA of a peft adapter (converted once, beside it), or None for the base model."""
        if adapter is None:
            return None
        if adapter_path is None:
            raise ModelError(f"adapter {adapter!r} has no path")
        from ragkit.generation.gguf_lora import gguf_lora_for

        return gguf_lora_for(Path(adapter_path), self.source)

    def score(
        self, messages: Sequence[Message], continuations: Sequence[str], adapter: str | None = None, adapter_path: Path | None = None
    ) -> list[ContinuationScore]:
        """Log-probability of each continuation as the answer to the chat. The prompt is evaluated once;
        each continuation then goes through token by token from the prompt's cache (its last logits
        are all llama.cpp keeps without `logits_all`, which would hold a window-by-vocabulary array)."""
        import numpy as np
        from llama_cpp import llama_get_logits

        if not continuations:
            return []
        lora = self._lora_for(adapter, adapter_path)
        with self._lock:
            prompt, _ = self._format(messages)
            tokens = self._prompt_tokens(prompt)
            llm = self._llama(lora)
            ids = [llm.tokenize(c.encode("utf-8"), add_bos=False, special=False) or [llm.token_eos()] for c in continuations]
            width = max(len(x) for x in ids)
            if len(tokens) + width > self.context_window:
                raise ModelError(f"prompt of {len(tokens)} tokens plus a {width}-token answer exceeds the model's window of {self.context_window}", code="context_overflow")
            n_vocab = llm.n_vocab()

            def last_logprobs() -> np.ndarray:
                logits = np.ctypeslib.as_array(llama_get_logits(llm.ctx), shape=(n_vocab,)).astype(np.float64)
                top = logits.max()
                return logits - top - np.log(np.exp(logits - top).sum())

            try:
                llm.reset()
                llm.eval(tokens)
                after_prompt = last_logprobs()
                out = []
                for x in ids:
                    total, logp = float(after_prompt[x[0]]), after_prompt
                    for prev, nxt in zip(x, x[1:]):
                        llm.eval([prev])
                        logp = last_logprobs()
                        total += float(logp[nxt])
                    llm.n_tokens = len(tokens)  # back to the prompt: the next eval drops this continuation from the cache
                    out.append(ContinuationScore(logprob=total, tokens=len(x)))
            except Exception as e:
                raise ModelError(f"llama.cpp failed while scoring with {self.source}: {e}") from e
            finally:
                llm.reset()
        return out

    def generate(
        self,
        messages: Sequence[Message],
        max_tokens: int = 64,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        adapter: str | None = None,
        adapter_path: Path | None = None,
    ) -> Completion:
        lora = self._lora_for(adapter, adapter_path)
        with self._lock:
            prompt, template_stops = self._format(messages)
            tokens = self._prompt_tokens(prompt)
            window = self.context_window
            if len(tokens) + max_tokens > window:
                raise ModelError(
                    f"prompt of {len(tokens)} tokens plus {max_tokens} answer tokens exceeds the model's window of {window}",
                    code="context_overflow",
                )
            llm = self._llama(lora)
            llm.reset()  # no prefix reuse: the answer must not depend on the previous prompt
            try:
                out = llm.create_completion(
                    tokens, max_tokens=max_tokens, temperature=temperature, top_k=0 if temperature > 0 else 1, top_p=1.0,
                    min_p=0.0, repeat_penalty=1.0, stop=[s for s in (*stop, *template_stops) if s], seed=0,
                )  # fmt: skip
            except Exception as e:
                raise ModelError(f"llama.cpp failed while generating with {self.source}: {e}") from e
        choice = out["choices"][0]
        text, stopped = cut_at_stop(choice["text"], stop)
        usage = out["usage"]
        finish = "stop" if stopped or choice.get("finish_reason") == "stop" else "length"
        return Completion(text=text.strip(), prompt_tokens=int(usage["prompt_tokens"]), completion_tokens=int(usage["completion_tokens"]), finish_reason=finish)


def from_settings(settings) -> LlamaCppGenerator:
    """The `llamacpp` entry of the generator registry."""
    return LlamaCppGenerator(settings.llm_path, threads=settings.llm_threads)
