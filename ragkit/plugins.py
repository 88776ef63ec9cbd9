"""Named implementations of a seam (generators, embedding runtimes), found three ways.

Built-ins are named here by import path and imported only when chosen; a package adds its own
under the entry-point group (`ragkit.generators`, `ragkit.embedders`); a program or a test adds
one in process with `register`. The setting (`RAGKIT_GENERATOR`, `RAGKIT_EMBED_RUNTIME`) picks
one by name, and every name, built in or not, goes through the same lookup.

    [project.entry-points."ragkit.generators"]
    mymodel = "mypackage.gen:from_settings"     # from_settings(settings) -> Generator

    [project.entry-points."ragkit.embedders"]
    myruntime = "mypackage.emb:from_settings"   # from_settings(settings, model_path, embedder_id, runtime) -> Embedder
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Callable

from ragkit.errors import ConfigError


def _load(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


class Registry:
    """One seam's names -> factories; entry points are read once, on the first unknown name."""

    def __init__(self, group: str, setting: str, builtins: dict[str, str]):
        self.group = group
        self.setting = setting
        self._builtins = dict(builtins)
        self._registered: dict[str, Callable[..., Any]] = {}
        self._entry_points: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def register(self, name: str, factory: Callable[..., Any]) -> None:
        """Add (or replace) an implementation in this process."""
        self._registered[name] = factory

    def unregister(self, name: str) -> None:
        self._registered.pop(name, None)

    def _found(self) -> dict[str, Any]:
        with self._lock:
            if self._entry_points is None:
                from importlib.metadata import entry_points

                self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
            return self._entry_points

    def __contains__(self, name: str) -> bool:
        return name in self._registered or name in self._builtins or name in self._found()

    def names(self) -> list[str]:
        return sorted({*self._builtins, *self._registered, *self._found()})

    def target(self, name: str) -> str | None:
        """`module:attr` that another process can import `name`'s factory from; None for a factory
        registered in process that is not a module-level function (a lambda, a closure)."""
        if name in self._registered:
            factory = self._registered[name]
            module, qualname = getattr(factory, "__module__", None), getattr(factory, "__qualname__", "")
            if not module or module == "__main__" or "<" in qualname:
                return None
            return f"{module}:{qualname}"
        if name in self._builtins:
            return self._builtins[name]
        ep = self._found().get(name)
        return ep.value if ep is not None else None

    def get(self, name: str) -> Callable[..., Any]:
        if name in self._registered:
            return self._registered[name]
        if name in self._builtins:
            return _load(self._builtins[name])
        ep = self._found().get(name)
        if ep is None:
            raise ConfigError(f"unknown {self.setting} {name!r}; known: {', '.join(self.names())}")
        try:
            return ep.load()
        except Exception as e:  # a broken plugin names itself
            raise ConfigError(f"{self.setting} {name!r} ({ep.value}, entry point of {self.group}) failed to load: {e}") from e


GENERATORS = Registry(
    "ragkit.generators",
    "generator",
    {
        "local": "ragkit.generation.local:from_settings",
        "openai": "ragkit.generation.openai_compat:from_settings",
        "llamacpp": "ragkit.generation.llamacpp:from_settings",
    },
)

EMBEDDERS = Registry(
    "ragkit.embedders",
    "embed_runtime",
    {
        "torch": "ragkit.embedding.encoder:from_settings",
        "int8": "ragkit.embedding.encoder:from_settings",
        "onnx": "ragkit.embedding.onnx_runtime:from_settings",
        "onnx-int8": "ragkit.embedding.onnx_runtime:from_settings",
    },
)
