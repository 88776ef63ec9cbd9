"""A LlamaIndex retriever over a ragkit collection, so llama-index query engines can use ragkit's index.

`import ragkit` does not import this module; llama-index loads only when it is imported.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from ragkit.errors import UsageError
from ragkit.retrieval import MODES

if TYPE_CHECKING:
    from ragkit.collection import Collection
    from ragkit.types import Hit

log = logging.getLogger(__name__)

# what an LLM prompt built by llama-index shows beside a chunk; the rest (scores, offsets, ids) is noise to it
LLM_METADATA_KEYS = ("source", "heading", "page")


def hit_to_node(hit: "Hit") -> NodeWithScore:
    """One ragkit hit as a llama-index node: id = chunk_id, metadata = the hit's, incl. source and doc_id."""
    metadata: dict[str, Any] = dict(hit.metadata)
    metadata["source"] = hit.source
    metadata["doc_id"] = hit.doc_id
    metadata["rank"] = hit.rank
    hidden = [key for key in metadata if key not in LLM_METADATA_KEYS]
    node = TextNode(
        id_=hit.chunk_id,
        text=hit.text,
        metadata=metadata,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=hidden,
    )
    return NodeWithScore(node=node, score=hit.score)


class RagkitRetriever(BaseRetriever):
    """Retrieves from a ragkit `Collection` (hybrid, dense or BM25, optionally filtered) for llama-index."""

    def __init__(self, collection: "Collection", k: int = 10, mode: str = "hybrid", where: str | dict | None = None, **kwargs: Any):
        if mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, not {mode!r}", code="invalid_mode")
        if k < 1:
            raise UsageError("k must be at least 1")
        self.collection = collection
        self.k = k
        self.mode = mode
        self.where = where
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self.collection.query(query_bundle.query_str, k=self.k, mode=self.mode, where=self.where)
        return [hit_to_node(hit) for hit in result.hits]


__all__ = ["RagkitRetriever", "hit_to_node"]
