"""The lexical index: stemmed BM25 (bm25s) over a collection's chunks, persisted in the home."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LexicalHit:
    chunk_id: str
    score: float


# Anserini's defaults. Chunks are short and carry their title, so term frequency should saturate
# early: on SciFact's train queries these beat bm25s's defaults (k1 1.5, b 0.75) by +0.007
# nDCG@10 in hybrid mode (docs/benchmarks.md, "Retrieval quality").
SCORING = {"method": "lucene", "k1": 0.9, "b": 0.4}


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, English-stopworded, Snowball-stemmed word tokens."""
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


class BM25Index:
    """An immutable BM25 index of (chunk_id, text) pairs; rebuilt, never edited in place."""

    def __init__(self, retriever, chunk_ids: list[str], revision: int):
        self._retriever = retriever
        self.chunk_ids = chunk_ids
        self.revision = revision

    @cached_property
    def _position(self) -> dict[str, int]:
        """chunk_id -> row, built on the first filtered query (a dict of every id is ~100 MB at 1M chunks)."""
        return {cid: i for i, cid in enumerate(self.chunk_ids)}

    @classmethod
    def build(cls, chunk_ids: list[str], texts: list[str], revision: int) -> "BM25Index":
        import bm25s

        retriever = None
        if chunk_ids:
            retriever = bm25s.BM25(**SCORING)
            retriever.index(tokenize(texts), show_progress=False)
        return cls(retriever, list(chunk_ids), revision)

    def save(self, folder: Path) -> None:
        """Write beside the folder, then swap it in (a folder of its own per save: two savers never share one)."""
        import tempfile

        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", suffix=".tmp", dir=folder.parent))
        try:
            if self._retriever is not None:
                self._retriever.save(str(tmp), show_progress=False)
            (tmp / "ragkit.json").write_text(json.dumps({"revision": self.revision, "scoring": SCORING, "chunk_ids": self.chunk_ids}))
            old = folder.with_name(f"{tmp.name}.old")
            if folder.exists():
                folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> "BM25Index | None":
        """The saved index, or None when there is none, it is unreadable or it scores differently (it is then rebuilt)."""
        import bm25s

        meta = folder / "ragkit.json"
        if not meta.exists():
            return None
        try:
            info = json.loads(meta.read_text())
            if info.get("scoring") != SCORING:
                log.info("BM25 index at %s was built with other parameters; it will be rebuilt", folder)
                return None
            retriever = bm25s.BM25.load(str(folder), show_progress=False) if info["chunk_ids"] else None
            return cls(retriever, info["chunk_ids"], int(info["revision"]))
        except Exception as e:  # a damaged cache is rebuilt from the manifest
            log.warning("BM25 index at %s is unreadable (%s); it will be rebuilt", folder, e)
            return None

    def search(self, query: str, k: int, allowed: set[str] | None = None) -> list[LexicalHit]:
        if self._retriever is None or k <= 0:
            return []
        tokens = tokenize([query])
        vocab = self._retriever.vocab_dict
        known = [[t for t in tokens[0] if t in vocab]]
        if not known[0]:
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.chunk_ids), dtype=np.float32)
            for cid in allowed:
                pos = self._position.get(cid)
                if pos is not None:
                    mask[pos] = 1.0
            if not mask.any():
                return []
        k = min(k, len(self.chunk_ids))
        # n_threads=0 scores in this thread: 1 started a one-worker thread pool for every query
        docs, scores = self._retriever.retrieve(known, k=k, show_progress=False, weight_mask=mask, n_threads=0)
        ids = self.chunk_ids
        return [LexicalHit(ids[pos], score) for pos, score in zip(docs[0].tolist(), scores[0].tolist()) if score > 0]
