"""The generator seam: chat messages in, text and token usage out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str

    def to_dict(self) -> dict:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"  # "stop" | "length"


class Generator(Protocol):
    """One contract for local transformers, OpenAI-compatible servers and llama.cpp."""

    model_id: str
    remote: bool  # True when text leaves this machine

    @property
    def context_window(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def count_message_tokens(self, messages: Sequence[Message]) -> int: ...

    def generate(
        self,
        messages: Sequence[Message],
        max_tokens: int = 64,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        adapter: str | None = None,
        adapter_path=None,
    ) -> Completion:
        """`adapter` names a LoRA adapter: loaded from `adapter_path` locally, a model name on a server."""
        ...


@dataclass(frozen=True)
class ContinuationScore:
    """How likely the model finds a continuation of a prompt: summed token log-probability and token count."""

    logprob: float
    tokens: int

    @property
    def mean(self) -> float:
        return self.logprob / max(1, self.tokens)


def can_score(generator) -> bool:
    """Whether a generator offers `score(messages, continuations, adapter=, adapter_path=)` (local, llamacpp, fake do;
    an OpenAI-compatible chat server gives no log-probabilities for text it did not write)."""
    return callable(getattr(generator, "score", None))


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Text up to the first stop sequence, and whether one was found."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if 0 <= i < cut:
                cut = i
    return text[:cut], cut < len(text)
