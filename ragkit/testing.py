"""Deterministic, model-free stand-ins for the embedder and the generator.

`RAGKIT_EMBED_RUNTIME=fake` and `RAGKIT_GENERATOR=fake` select them through the plugin
registry, exactly as a third-party implementation is selected (they are declared as entry
points in ragkit's own pyproject.toml). They load in milliseconds and give the same output
for the same input on every machine, so an application's tests (and most of ragkit's own)
run the whole pipeline (parse, chunk, index, retrieve, prompt, cite, abstain) without a model.

- `FakeEmbedder`: feature hashing of words and word pairs into 384 dimensions, L2-normalised.
  Texts that share words are near, so retrieval still finds the chunk that holds the question's
  words. Chunks are measured with the bundled MiniLM's own tokenizer (a JSON file, no weights),
  so chunk boundaries are the real ones.
- `FakeGenerator`: answers with the source sentence sharing most content words with the
  question, cited as `[n]`, and "I don't know" without sources or overlap; it scores a
  continuation as likely when that sentence holds it. Token counts are
  about a subword tokenizer's (a token per four characters of a word, one per mark).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from ragkit.generation.base import Completion, ContinuationScore, Message, cut_at_stop
from ragkit.methods.prompts import IDK

_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_PIECE = re.compile(r"\w+|[^\w\s]")
_STOPWORDS = frozenset(
    "a an and are as at be by did do does for from has have how in is it its of on or the this to was were what when "
    "where which who whom whose why with many much long".split()
)


def _words(text: str) -> list[str]:
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORD.findall(text.lower())]


def content_words(text: str) -> set[str]:
    return {w for w in _words(text) if w not in _STOPWORDS}


class FakeEmbedder:
    """Hashed bag of words and word pairs; see the module docstring."""

    dimension = 384

    def __init__(self, model_path: Path | None = None, batch_size: int = 8, embedder_id: str | None = None):
        from ragkit.embedding.encoder import max_seq_length, resolve_embedder_path

        self.path, base_id = resolve_embedder_path(model_path)
        self.embedder_id = embedder_id or f"fake-hash-{self.dimension}({base_id})"
        self.batch_size = batch_size
        self.max_tokens = max_seq_length(self.path) - 2
        self._tokenizer = None

    def count_tokens(self, text: str) -> int:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    _SHARED = 0.25  # every pair of texts shares this much cosine, as a sentence encoder's do (MiniLM-like scale)

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        words = [w for w in _words(text) if w not in _STOPWORDS]
        features = Counter(words + [f"{a} {b}" for a, b in zip(words, words[1:])])
        for feature, count in features.items():
            h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
            v[1 + h % (self.dimension - 1)] += (1.0 if h >> 63 else -1.0) * (1.0 + np.log(count)) * (0.5 if " " in feature else 1.0)
        norm = np.linalg.norm(v)
        if norm > 0:
            v *= np.sqrt(1 - self._SHARED) / norm
        v[0] = np.sqrt(self._SHARED) if norm > 0 else 1.0  # cosine of two texts: 0.25 + 0.75 x their hashed cosine
        return v

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


class FakeGenerator:
    """Quotes the best-overlapping source sentence; see the module docstring."""

    model_id = "fake"
    remote = False
    context_window = 8192

    def count_tokens(self, text: str) -> int:
        """About what a subword tokenizer gives: one token per four characters of a word, one per mark."""
        return sum(max(1, (len(p) + 3) // 4) for p in _PIECE.findall(text))

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        return sum(self.count_tokens(m.content) + 4 for m in messages)

    def generate(self, messages: Sequence[Message], max_tokens: int = 64, temperature: float = 0.0, stop: Sequence[str] = (), adapter=None, adapter_path=None) -> Completion:
        n_prompt = self.count_message_tokens(messages)
        if n_prompt + max_tokens > self.context_window:
            from ragkit.errors import ModelError

            raise ModelError(f"prompt of {n_prompt} tokens plus {max_tokens} answer tokens exceeds the model's window of {self.context_window}")
        prompt = messages[-1].content if messages else ""
        text = self._answer(prompt)
        text, _ = cut_at_stop(text, stop)
        words, finish = text.split(" "), "stop"
        while len(words) > 1 and self.count_tokens(" ".join(words)) > max_tokens:
            words, finish = words[:-1], "length"
        text = " ".join(words)
        return Completion(text=text, prompt_tokens=n_prompt, completion_tokens=min(self.count_tokens(text), max_tokens), finish_reason=finish)

    def score(self, messages: Sequence[Message], continuations: Sequence[str], adapter=None, adapter_path=None) -> list[ContinuationScore]:
        """Likely (-1 in all, the longer the likelier a token) what occurs in the sentence `generate` would quote, unlikely (-4 a token) the rest."""
        from ragkit.textnorm import contains_phrase

        said = self._answer(messages[-1].content if messages else "")
        out = []
        for c in continuations:
            n = self.count_tokens(c)
            out.append(ContinuationScore(logprob=-1.0 if contains_phrase(said, c) else -4.0 * n, tokens=n))
        return out

    @staticmethod
    def _answer(prompt: str) -> str:
        question = prompt.rsplit("Question:", 1)[-1].split("\nAnswer:", 1)[0]
        body = prompt.split("<<<", 1)[1].rsplit(">>>", 1)[0] if "<<<" in prompt else ""
        asked = content_words(question)
        best, best_overlap = None, 0
        for block in re.split(r"\n(?=\[\d+\] \()", body.strip()):
            head = re.match(r"\[(\d+)\] \([^\n]*\)\n?", block)
            if not head:
                continue
            for sentence in re.split(r"(?<=[.!?])\s+|\n+", block[head.end():]):
                overlap = len(asked & content_words(sentence))
                if overlap > best_overlap and len(sentence) > 3:
                    best, best_overlap = f"{sentence.strip()} [{head.group(1)}]", overlap
        return best or IDK


def embedder_from_settings(settings, model_path: Path | None = None, embedder_id: str | None = None, runtime: str = "fake") -> FakeEmbedder:
    """The `fake` entry of the embedder registry."""
    return FakeEmbedder(model_path if model_path is not None else settings.embed_model, settings.embed_batch_size, embedder_id)


def generator_from_settings(settings) -> FakeGenerator:
    """The `fake` entry of the generator registry."""
    return FakeGenerator()
