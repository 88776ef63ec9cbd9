"""A knowledge base: one home, its manifest, its embedder and its index backend, opened lazily."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ragkit.errors import ModelError, NotFound
from ragkit.settings import Settings, load_settings
from ragkit.storage.collection_store import CollectionStore
from ragkit.storage.home import HomeLayout, HomeLock, check_collection_name
from ragkit.storage.manifest import Manifest

if TYPE_CHECKING:
    from ragkit.collection import Collection
    from ragkit.embedding.encoder import Embedder

log = logging.getLogger(__name__)


class KnowledgeBase:
    """Owns the heavy, shared parts; nothing is loaded until first used."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.layout = HomeLayout(settings.home)
        self.layout.ensure()
        self.manifest = Manifest(self.layout.manifest)
        self._lock = HomeLock(self.layout.lock_file)
        self._client = None
        self._embedder: Embedder | None = None
        self._tuned: dict[Path, Embedder] = {}
        self._stores: dict[str, CollectionStore] = {}
        self._shared: dict[str, Any] = {}
        self._generator = None
        self._guard = threading.RLock()

    # -- shared parts ------------------------------------------------------------------------

    @property
    def embedder(self) -> "Embedder":
        """The configured embedding model on the configured runtime (`embed_runtime`, from the registry)."""
        with self._guard:
            if self._embedder is None:
                from ragkit.embedding.encoder import make_embedder

                self._embedder = make_embedder(self.settings)
            return self._embedder

    def embedder_for(self, collection: str) -> "Embedder":
        """The embedder of a collection: its tuned embedder when it was switched to one, else the configured model."""
        name = self.manifest.collection_embedder(collection)
        if name is None:
            return self.embedder
        folder = self.layout.embedders(collection) / name
        with self._guard:
            if folder not in self._tuned:
                import json

                from ragkit.embedding.encoder import make_embedder

                record = folder / "ragkit.json"
                if not record.exists():
                    raise ModelError(
                        f"collection {collection!r} uses the tuned embedder {name!r}, but {folder} is missing; "
                        f"switch back with `ragkit embedders use base -c {collection}`"
                    )
                embedder_id = json.loads(record.read_text())["embedder_id"]
                self._tuned[folder] = make_embedder(self.settings, folder, embedder_id)
            return self._tuned[folder]

    def forget_embedder(self, folder) -> None:
        """Drop a loaded tuned embedder (its folder was replaced)."""
        with self._guard:
            self._tuned.pop(folder, None)

    @property
    def embedders(self):
        from ragkit.embedding.tuning import EmbedderStore

        return EmbedderStore(self)

    @property
    def generator(self):
        """The configured generator (local SmolLM2 by default), created once."""
        with self._guard:
            if self._generator is None:
                from ragkit.generation import make_generator

                self._generator = make_generator(self.settings)
            return self._generator

    @property
    def adapters(self):
        from ragkit.finetune.adapters import AdapterStore

        return AdapterStore(self.layout, self.manifest)

    @property
    def embedded(self) -> bool:
        return not self.settings.chroma_url

    def _chroma(self):
        with self._guard:
            if self._client is None:
                from ragkit.storage.chroma_index import chroma_client

                if self.embedded:
                    self._lock.acquire("embedded Chroma")
                self._client = chroma_client(path=self.layout.chroma, url=self.settings.chroma_url)
            return self._client

    def lock_for_writing(self, purpose: str = "embedded Chroma", hint: str | None = None) -> None:
        """In embedded mode, take the home's lock now, before any work is done (fails fast)."""
        if self.embedded:
            self._lock.acquire(purpose, hint)

    def store(self, name: str, *, create: bool = False) -> CollectionStore:
        """The storage of a collection; NotFound unless it exists or `create` is set."""
        check_collection_name(name)
        with self._guard:
            if name in self._stores:
                return self._stores[name]
            if not self.manifest.has_collection(name):
                if not create:
                    raise NotFound(f"collection {name!r} does not exist in {self.settings.home}", code="collection_not_found")
                self.manifest.ensure_collection(name)
            from ragkit.storage.chroma_index import ChromaIndex

            store = CollectionStore(name, self.manifest, lambda: ChromaIndex(self._chroma(), name), self.layout)
            store.recover()
            self._stores[name] = store
            return store

    def collection(self, name: str = "default") -> "Collection":
        from ragkit.collection import Collection

        return Collection(self, check_collection_name(name))

    def collections(self) -> list[str]:
        return self.manifest.collections()

    def forget_store(self, name: str) -> None:
        """Drop the cached store of a collection that was deleted."""
        with self._guard:
            self._stores.pop(name, None)

    def shared(self, key: str, factory: Callable[[], Any]) -> Any:
        """A resource another layer keeps for the life of this knowledge base (ingest's parser
        pool), made by `factory` on first use and closed (`.close()`) with it."""
        with self._guard:
            if key not in self._shared:
                self._shared[key] = factory()
            return self._shared[key]

    def close(self) -> None:
        for resource in reversed(list(self._shared.values())):
            resource.close()
        self._shared.clear()
        self.manifest.close()
        self._lock.release()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_kb(home=None, settings: Settings | None = None, **overrides) -> KnowledgeBase:
    """Open the knowledge base in `home` (default: RAGKIT_HOME or ~/.local/share/ragkit)."""
    if settings is None:
        settings = load_settings(home=home, **overrides)
    elif home is not None:
        settings = settings.model_copy(update={"home": home})
    return KnowledgeBase(settings)
