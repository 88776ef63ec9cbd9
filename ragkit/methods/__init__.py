"""The knowledge-injection methods, by SPEC name."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ragkit.errors import UsageError
from ragkit.methods.base import AdapterRef, Method, Runtime
from ragkit.methods.closed_book import ClosedBookMethod, LoraMethod
from ragkit.methods.long_context import LongContextMethod
from ragkit.methods.rag import LoraRagMethod, RagMethod
from ragkit.methods.self_route import SelfRouteMethod
from ragkit.types import Answer

METHODS: dict[str, type] = {
    "closed-book": ClosedBookMethod,
    "rag": RagMethod,
    "long-context": LongContextMethod,
    "lora": LoraMethod,
    "lora-rag": LoraRagMethod,
    "self-route": SelfRouteMethod,
}


def check_method(name: str) -> str:
    if name not in METHODS:
        raise UsageError(f"unknown method {name!r}; choose from {', '.join(METHODS)}", code="invalid_method")
    return name


def build_method(name: str, rt: Runtime, adapter_name: str | None = None) -> Method:
    """A prepared method; adapter methods look up `adapter_name` (default: the newest adapter)."""
    cls = METHODS[check_method(name)]
    adapter = None
    if cls.needs_adapter:
        if rt.settings.generator == "openai" and adapter_name:
            adapter = AdapterRef(adapter_name, None)  # the server serves it under this model name
        else:
            info = rt.kb.adapters.get(rt.collection, adapter_name)
            adapter = AdapterRef(info.name, Path(info.path))
    return cls(rt, adapter)


def answer_with(method: Method, question: str, known: Mapping[str, Answer]) -> Answer:
    """A method's answer to a question; a method made of others (its `parts`, e.g. self-route)
    gets the answers to the same question the caller already has, so they are not computed twice."""
    done = {p: known[p] for p in getattr(method, "parts", ()) if p in known}
    return method.answer(question, done=done) if done else method.answer(question)


__all__ = ["METHODS", "AdapterRef", "Runtime", "answer_with", "build_method", "check_method"]
