"""The service's one place where a generator that fails or dies becomes a ModelError (502) that names it.

An OpenAI-compatible server that is killed mid-request, a llama.cpp or plugin generator that
raises something of its own: the request answers `{"error": {"code", "message"}}` naming the
generator and saying it stopped, and the service keeps serving (it is ready again as soon as the
generator is). A model that runs in process (`local`, `llamacpp`, a plugin's) runs in a child
process (service/generator_host.py), so even a segfault there is one failed answer.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from ragkit.errors import BackendError, ModelError, RagkitError
from ragkit.settings import Settings

log = logging.getLogger("ragkit.service")
_STOPPED_CODES = frozenset(("generator_unreachable",))  # what a dead server looks like to the client


def describe_generator(settings: Settings) -> str:
    """The configured generator in words, without loading it: `openai at http://...`, `local (bundled SmolLM2)`."""
    if settings.generator == "openai":
        model = f", model {settings.openai_model}" if settings.openai_model else ""
        return f"openai at {settings.openai_base_url}{model}"
    if settings.generator in ("local", "llamacpp"):
        return f"{settings.generator} ({settings.llm_path or 'the bundled SmolLM2'})"
    return repr(settings.generator)


class GuardedGenerator:
    """Wraps the configured generator: `generate` failures are ModelErrors naming it; the rest passes through."""

    def __init__(self, factory: Callable[[], Any], description: str):
        self._factory = factory
        self._inner: Any = None
        self._lock = threading.Lock()
        self.description = description

    def _real(self) -> Any:
        with self._lock:
            if self._inner is None:
                self._inner = self._factory()
            return self._inner

    def unload_adapters(self) -> None:
        """Only when the generator is loaded and has adapters to drop (fine-tuning calls this)."""
        if self._inner is not None and hasattr(self._inner, "unload_adapters"):
            self._inner.unload_adapters()

    def generate(self, *args: Any, **kwargs: Any):
        return self._guarded("generate", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name == "score":
            getattr(self._real(), "score")  # AttributeError when this generator cannot score
            return lambda *args, **kwargs: self._guarded("score", *args, **kwargs)
        return getattr(self._real(), name)

    def close(self) -> None:
        """Stop a generator that runs in a process of its own."""
        if self._inner is not None and hasattr(self._inner, "close"):
            self._inner.close()

    def _guarded(self, method: str, *args: Any, **kwargs: Any):
        try:
            return getattr(self._real(), method)(*args, **kwargs)
        except BackendError as e:
            if e.code not in _STOPPED_CODES:
                raise  # the generator answered (an overflow, a 4xx) or named itself already: its message says what to fix
            log.error("generator %s stopped: %s", self.description, e.message)
            raise ModelError(f"the generator ({self.description}) stopped while answering or cannot be reached: {e.message}", code=e.code) from e
        except RagkitError:
            raise
        except Exception as e:
            log.exception("generator %s failed", self.description)
            raise ModelError(f"the generator ({self.description}) stopped while answering: {type(e).__name__}: {e}", code="generator_failed") from e
