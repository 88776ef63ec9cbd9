"""closed-book and lora: the question alone, through the base model or a LoRA adapter."""

from __future__ import annotations

from ragkit.methods.base import AdapterRef, Runtime, generate_answer
from ragkit.types import Answer


class ClosedBookMethod:
    """What the model knew before: no context at all."""

    name = "closed-book"
    needs_adapter = False
    uses_retrieval = False

    def __init__(self, rt: Runtime, adapter: AdapterRef | None = None):
        self.rt = rt
        self.adapter = adapter

    def answer(self, question: str) -> Answer:
        return generate_answer(self.rt, self.name, question, None, adapter=self.adapter)


class LoraMethod(ClosedBookMethod):
    """The question only, through an adapter trained on the collection."""

    name = "lora"
    needs_adapter = True
