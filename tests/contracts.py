"""Contract tests every implementation of a seam inherits: subclass, provide the fixture, get the tests."""

from __future__ import annotations

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
