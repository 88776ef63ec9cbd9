"""The llama-index retriever adapter over a real collection (MiniLM, embedded Chroma), in a real query engine."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ragkit
from ragkit.errors import UsageError
from tests.conftest import write_corpus

QUESTION = "How many amps does the Osprey 4 draw at full load?"


@pytest.fixture(scope="module")
def col(tmp_path_factory):
    root = tmp_path_factory.mktemp("llamaindex")
    with ragkit.open(root / "home") as kb:
        c = kb.collection("default")
        c.ingest(write_corpus(root / "corpus"))
        yield c


def test_retrieve_returns_ragkit_hits_as_nodes(col):
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from ragkit.integrations.llamaindex import RagkitRetriever

    hits = col.query(QUESTION, k=3).hits
    nodes = RagkitRetriever(col, k=3).retrieve(QueryBundle(QUESTION))
    assert len(nodes) == len(hits) == 3
    assert all(isinstance(n, NodeWithScore) and isinstance(n.node, TextNode) for n in nodes)
    assert [n.node.node_id for n in nodes] == [h.chunk_id for h in hits]
    assert [n.score for n in nodes] == [h.score for h in hits]
    top = nodes[0].node
    assert top.metadata["source"] == "osprey-4-manual.md"
    assert top.metadata["doc_id"] == hits[0].doc_id
    assert top.metadata["heading"] == hits[0].metadata["heading"]
    assert "2.8 A" in top.get_content()
    # an LLM sees the source beside the text, not the scores and offsets
    shown = top.get_content(metadata_mode="llm")
    assert "source: osprey-4-manual.md" in shown and "bm25_score" not in shown


def test_mode_k_and_filter_pass_through(col):
    from ragkit.integrations.llamaindex import RagkitRetriever

    assert len(RagkitRetriever(col, k=1, mode="bm25").retrieve("hotel Lisbon")) == 1
    dense = RagkitRetriever(col, k=1, mode="dense").retrieve("when can I phone the helpdesk")
    assert dense[0].node.metadata["source"] == "support.md"
    only_txt = RagkitRetriever(col, k=5, where={"source": "travel-policy.txt"}).retrieve(QUESTION)
    assert only_txt and {n.node.metadata["source"] for n in only_txt} == {"travel-policy.txt"}
    with pytest.raises(UsageError, match="mode"):
        RagkitRetriever(col, mode="fuzzy")


def test_plugs_into_a_retriever_query_engine(col):
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.response_synthesizers.no_text import NoText

    from ragkit.integrations.llamaindex import RagkitRetriever

    retriever = RagkitRetriever(col, k=2)
    # llama-index-core 0.14's from_args drops `llm` for response_mode="no_text" and reaches for OpenAI
    # (not installed, no network): build the engine from its parts instead
    sources_only = RetrieverQueryEngine(retriever, response_synthesizer=NoText(llm=MockLLM())).query(QUESTION)
    assert str(sources_only) == "None"  # no text was generated
    assert sources_only.source_nodes[0].node.metadata["source"] == "osprey-4-manual.md"
    # MockLLM echoes its prompt: the engine built it from ragkit's chunks and their sources
    answered = RetrieverQueryEngine.from_args(retriever, llm=MockLLM(), response_mode="compact").query(QUESTION)
    assert "2.8 A" in str(answered) and "osprey-4-manual.md" in str(answered)
    assert [n.node.node_id for n in answered.source_nodes] == [n.node.node_id for n in sources_only.source_nodes]


def test_import_ragkit_does_not_load_llama_index():
    code = "import sys, ragkit; print('llama_index' in ' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
