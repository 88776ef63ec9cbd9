"""Generators: build the one the settings name."""

from __future__ import annotations

from ragkit.errors import ConfigError
from ragkit.generation.base import Completion, Generator, Message
from ragkit.settings import Settings


def make_generator(settings: Settings) -> Generator:
    """`local` (transformers), `openai` (any OpenAI-compatible server) or `llamacpp` (llama.cpp in process)."""
    if settings.generator == "local":
        from ragkit.generation.local import LocalGenerator

        return LocalGenerator(settings.llm_path, settings.cache_dir)
    if settings.generator == "openai":
        from ragkit.generation.openai_compat import OpenAIGenerator

        return OpenAIGenerator(
            settings.openai_base_url or "",
            settings.openai_model,
            settings.resolved_openai_api_key,
            allow_remote=settings.allow_remote,
            context_window=settings.openai_context_window,
        )
    if settings.generator == "llamacpp":
        from ragkit.generation.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(settings.llm_path)
    raise ConfigError(f"unknown generator {settings.generator!r}")


__all__ = ["Completion", "Generator", "Message", "make_generator"]
