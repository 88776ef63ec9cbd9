"""self-route: rag first; when it abstains, long-context. `details.route` says which answered."""

from __future__ import annotations

import time

from ragkit.methods.base import AdapterRef, Runtime
from ragkit.methods.long_context import LongContextMethod
from ragkit.methods.rag import RagMethod
from ragkit.types import Answer, AnswerDetails, Usage


class SelfRouteMethod:
    name = "self-route"
    needs_adapter = False
    uses_retrieval = True

    def __init__(self, rt: Runtime, adapter: AdapterRef | None = None):
        self.rag = RagMethod(rt)
        self.long = LongContextMethod(rt)

    def answer(self, question: str) -> Answer:
        started = time.perf_counter()
        first = self.rag.answer(question)
        if not first.abstained:
            chosen, route, extra = first, "rag", Usage()
        else:
            chosen, route, extra = self.long.answer(question), "long-context", first.usage
        details = {**chosen.details.as_dict(), "route": route}
        if route == "long-context":
            details["rag_abstain_reason"] = first.details.get("abstain_reason")
        usage = Usage(
            prompt_tokens=chosen.usage.prompt_tokens + extra.prompt_tokens,
            completion_tokens=chosen.usage.completion_tokens + extra.completion_tokens,
        )
        return chosen.model_copy(
            update={"method": self.name, "details": AnswerDetails(**details), "usage": usage, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
        )
