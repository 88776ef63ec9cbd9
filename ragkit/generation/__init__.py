"""Generators: build the one the settings name."""

from __future__ import annotations

from ragkit.generation.base import Completion, Generator, Message
from ragkit.plugins import GENERATORS
from ragkit.settings import Settings


def make_generator(settings: Settings) -> Generator:
    """The generator `settings.generator` names in the registry: `local` (transformers), `openai`
    (any OpenAI-compatible server), `llamacpp` (llama.cpp in process), `fake`, or a plugin's."""
    return GENERATORS.get(settings.generator)(settings)


__all__ = ["Completion", "Generator", "Message", "make_generator"]
