"""Generators: build the one the settings name."""

from __future__ import annotations

from ragkit.errors import ConfigError
from ragkit.generation.base import Completion, Generator, Message
from ragkit.settings import Settings


def make_generator(settings: Settings) -> Generator:
    """`local` (transformers), `openai` (any OpenAI-compatible server) or `llamacpp` (extra)."""
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
        raise ConfigError(
            "generator 'llamacpp' runs through llama.cpp's OpenAI-compatible server: start "
            "`python -m llama_cpp.server --model FILE.gguf --host 127.0.0.1` and use RAGKIT_GENERATOR=openai "
            "with RAGKIT_OPENAI_BASE_URL=http://127.0.0.1:8000/v1",
            code="use_openai_generator",
        )
    raise ConfigError(f"unknown generator {settings.generator!r}")


__all__ = ["Completion", "Generator", "Message", "make_generator"]
