"""long-context packing: the exact prompt decides, not the per-document estimates."""

from __future__ import annotations

from types import SimpleNamespace

from ragkit.methods.long_context import LongContextMethod
from ragkit.methods.prompts import SourceText, build_messages
from ragkit.settings import Settings


class WordGenerator:
    """Counts words; every source costs 9 more tokens in the prompt than its text (its header)."""

    context_window = 120

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def count_message_tokens(self, messages) -> int:
        body = messages[-1].content
        sources = body.count("\n[") + body.startswith("[")
        return sum(len(m.content.split()) for m in messages) + 9 * sources


def method(**settings) -> LongContextMethod:
    rt = SimpleNamespace(settings=Settings(max_tokens=16, **settings), generator=WordGenerator())
    return LongContextMethod(rt)


def docs(n: int, words: int) -> list[SourceText]:
    return [SourceText(n=i + 1, source=f"policies/document-{i + 1}.md", text=" ".join(["word"] * words)) for i in range(n)]


def test_documents_are_dropped_from_the_end_until_the_prompt_fits():
    m = method()
    question = "What is the hotel limit?"
    shown, truncated = m._fit(question, docs(6, 15), None)
    limit = 120 - 16
    assert WordGenerator().count_message_tokens(build_messages(question, shown)) <= limit
    assert [s.source for s in shown] == [f"policies/document-{i}.md" for i in range(1, len(shown) + 1)]  # the most relevant stay
    assert 0 < len(shown) < 6 and truncated is None
    # one more document would not have fitted
    assert WordGenerator().count_message_tokens(build_messages(question, docs(len(shown) + 1, 15))) > limit


def test_a_prompt_that_fits_is_left_alone_and_the_cap_counts():
    question = "What is the hotel limit?"
    few = docs(2, 10)
    assert method()._fit(question, few, None) == (few, None)
    capped, _ = method(long_context_tokens=256)._fit(question, docs(20, 10), None)  # the cap is above the window: the window rules
    assert WordGenerator().count_message_tokens(build_messages(question, capped)) <= 120 - 16
