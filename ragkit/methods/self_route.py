"""self-route: rag first; when it abstains, long-context. `details.route` says which answered."""

from __future__ import annotations

from typing import Mapping

from ragkit.methods.base import AdapterRef, Runtime
from ragkit.methods.long_context import LongContextMethod
from ragkit.methods.rag import RagMethod
from ragkit.types import Answer, AnswerDetails, Usage


class SelfRouteMethod:
    name = "self-route"
    needs_adapter = False
    uses_retrieval = True
    # the methods it is made of: a run that already has their answer to a question (an eval, a
    # compare, with the same settings) hands them over and self-route composes, not recomputes
    parts = ("rag", "long-context")

    def __init__(self, rt: Runtime, adapter: AdapterRef | None = None):
        self.rag = RagMethod(rt)
        self.long = LongContextMethod(rt)

    def answer(self, question: str, done: Mapping[str, Answer] | None = None) -> Answer:
        """`done`: this question's answers by `parts`, where the caller has them. Greedy answers
        are the same either way; `latency_ms` is the sum of the parts' latencies in both cases."""
        done = done or {}
        first = done.get("rag") or self.rag.answer(question)
        if not first.abstained:
            chosen, route, extra = first, "rag", Usage()
        else:
            chosen, route, extra = done.get("long-context") or self.long.answer(question), "long-context", first.usage
        details = {**chosen.details.as_dict(), "route": route}
        latency = chosen.latency_ms
        if route == "long-context":
            details["rag_abstain_reason"] = first.details.get("abstain_reason")
            latency += first.latency_ms
        usage = Usage(
            prompt_tokens=chosen.usage.prompt_tokens + extra.prompt_tokens,
            completion_tokens=chosen.usage.completion_tokens + extra.completion_tokens,
        )
        return chosen.model_copy(update={"method": self.name, "details": AnswerDetails(**details), "usage": usage, "latency_ms": round(latency, 1)})
