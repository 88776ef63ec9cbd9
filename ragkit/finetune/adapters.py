"""LoRA adapters trained on a collection: one folder each under the home, with ragkit's record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ragkit.errors import NotFound
from ragkit.storage.home import ITEM_NAME_RE, HomeLayout, check_collection_name
from ragkit.storage.manifest import Manifest
from ragkit.types import Model

RECORD = "ragkit.json"


class AdapterInfo(Model):
    name: str
    collection: str
    path: str
    base_model: str
    revision: int
    stale: bool
    created_at: str
    steps: int
    data: list[str]
    examples: int
    seconds: float
    loss_first: float | None = None
    loss_last: float | None = None


class AdapterStore:
    """Lists, finds and deletes a collection's adapters; `stale` when the collection changed since."""

    def __init__(self, layout: HomeLayout, manifest: Manifest):
        self.layout = layout
        self.manifest = manifest

    def folder(self, collection: str, name: str) -> Path:
        check_collection_name(collection)
        if not ITEM_NAME_RE.fullmatch(name or ""):
            raise NotFound(f"invalid adapter name {name!r}", code="adapter_not_found")
        return self.layout.adapters(collection) / name

    def list(self, collection: str) -> list[AdapterInfo]:
        root = self.layout.adapters(collection)
        if not root.exists():
            return []
        revision = self.manifest.revision(collection)
        out = []
        for rec in sorted(root.glob(f"*/{RECORD}")):
            data = json.loads(rec.read_text())
            data["path"] = str(rec.parent)
            data["stale"] = int(data.get("revision", -1)) != revision
            out.append(AdapterInfo(**{k: data.get(k) for k in AdapterInfo.model_fields if k in data}))
        return sorted(out, key=lambda a: a.created_at)

    def get(self, collection: str, name: str | None = None) -> AdapterInfo:
        """The named adapter, or the newest one; NotFound says how to train one."""
        adapters = self.list(collection)
        if name is not None:
            adapters = [a for a in adapters if a.name == name]
        if not adapters:
            what = f"adapter {name!r}" if name else "no adapter"
            raise NotFound(
                f"{what} for collection {collection!r}{' not found' if name else ''}; train one with `ragkit finetune -c {collection}`",
                code="adapter_not_found",
            )
        return adapters[-1]

    def delete(self, collection: str, name: str) -> AdapterInfo:
        info = self.get(collection, name)
        shutil.rmtree(info.path)
        return info
