"""The identity and sync rules of stored documents: doc ids, content hashes, settings fingerprints, "unchanged".

Ingest writes with these and ragkit (re-embedding, storage) reads with them, so they live here,
below both: a document's id comes from its collection and source; its content hash from its
normalised text and the chunker + embedder settings that produced its chunks.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ragkit.settings import Settings

CHUNKER_VERSION = "structured-v2"  # v2: chunks carry document time (doc_date, doc_date_origin)  # bump when the chunker's output changes for the same settings


class _Stored(Protocol):
    status: str
    settings_fp: str | None
    root: str
    container: str
    container_hash: str | None
    content_hash: str | None


class _EmbedderLike(Protocol):
    path: object
    embedder_id: str


def doc_id_for(collection: str, source: str) -> str:
    """Stable document id from the collection and the source."""
    return hashlib.sha256(f"{collection}\x00{source}".encode()).hexdigest()[:20]


def content_hash_for(text: str, settings_fp: str) -> str:
    """The hash that decides whether a document's chunks are replaced: its text under these settings."""
    return hashlib.sha256(f"{settings_fp}\x00{text}".encode()).hexdigest()


def chunker_fingerprint(chunk_tokens: int, chunk_overlap: int, window_tokens: int) -> str:
    """What the chunker's output depends on besides the text."""
    return f"{CHUNKER_VERSION}:{chunk_tokens}:{chunk_overlap}:{window_tokens}"


def window_tokens_for(embedder: _EmbedderLike) -> int:
    """The embedder's content-token window: its sequence limit less the two special tokens."""
    from ragkit.embedding.encoder import max_seq_length

    return max_seq_length(embedder.path) - 2


def settings_fingerprint(settings: "Settings", embedder: _EmbedderLike) -> str:
    """The chunker and embedder settings a collection's chunks are built with; a change re-indexes every document."""
    chunker = chunker_fingerprint(settings.chunk_tokens, settings.chunk_overlap, window_tokens_for(embedder))
    return f"{chunker}|{embedder.embedder_id}"


def is_unchanged(
    row: _Stored | None,
    settings_fp: str,
    *,
    root: str | None = None,
    container: str | None = None,
    container_hash: str | None = None,
    content_hash: str | None = None,
) -> bool:
    """The one sync rule: a stored document needs no new chunks when it is indexed under the same
    settings and every given attribute (raw-bytes hash of its file, hash of its text, root,
    container) is what is stored."""
    if row is None or row.status != "indexed" or row.settings_fp != settings_fp:
        return False
    given = {"root": root, "container": container, "container_hash": container_hash, "content_hash": content_hash}
    return all(getattr(row, key) == value for key, value in given.items() if value is not None)
