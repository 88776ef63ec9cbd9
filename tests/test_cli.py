"""The `ragkit` command: SPEC JSON shapes, one JSON document with --json, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ragkit.cli import build_app

pytestmark = pytest.mark.usefixtures("fake_models")  # model-free: ragkit.testing's fakes through the plugin registry

INGEST_KEYS = {
    "collection", "files_seen", "added", "updated", "unchanged", "deleted", "skipped", "failed",
    "warnings", "chunks_added", "chunks_deleted", "seconds",
}


@pytest.fixture(scope="module")
def app():
    return build_app()


def call(app, *args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout


def one_json(stdout: str):
    return json.loads(stdout)  # fails unless stdout is exactly one JSON document


def test_ingest_query_docs_json(app, corpus, home):
    code, out = call(app, "ingest", corpus, "-c", "kb1", "--home", home, "--json")
    assert code == 0
    report = one_json(out)
    assert INGEST_KEYS <= set(report) and report["added"] == 3 and report["collection"] == "kb1"

    code, out = call(app, "query", "warranty months", "-c", "kb1", "-k", 2, "--home", home, "--json")
    assert code == 0
    hits = one_json(out)["hits"]
    assert len(hits) == 2
    assert set(hits[0]) == {"rank", "score", "doc_id", "source", "chunk_id", "text", "metadata"}
    assert hits[0]["source"] == "osprey-4-manual.md"

    code, out = call(app, "query", "hotel", "-c", "kb1", "--mode", "bm25", "--where", '{"doc_type": "txt"}', "--home", home, "--json")
    assert code == 0 and {h["source"] for h in one_json(out)["hits"]} == {"travel-policy.txt"}

    code, out = call(app, "docs", "list", "-c", "kb1", "--home", home, "--json")
    docs = one_json(out)["documents"]
    assert code == 0 and len(docs) == 3
    assert {"doc_id", "source", "root", "chunks", "bytes", "content_hash", "ingested_at"} <= set(docs[0])

    code, out = call(app, "docs", "show", "support.md", "-c", "kb1", "--home", home, "--json")
    assert code == 0 and one_json(out)["chunk_list"]

    code, out = call(app, "docs", "delete", "support.md", "-c", "kb1", "--home", home, "--json")
    assert code == 0 and one_json(out)["deleted"]["source"] == "support.md"
    code, out = call(app, "docs", "list", "-c", "kb1", "--home", home, "--json")
    assert len(one_json(out)["documents"]) == 2


def test_errors_are_one_json_document_with_exit_codes(app, home, corpus):
    code, out = call(app, "query", "x", "-c", "missing", "--home", home, "--json")
    assert code == 1
    assert one_json(out)["error"]["code"] == "collection_not_found"

    call(app, "ingest", corpus, "--home", home, "--json")
    code, out = call(app, "query", "x", "--mode", "sparse", "--home", home, "--json")
    assert code == 2 and one_json(out)["error"]["code"] == "invalid_mode"
    code, out = call(app, "query", "x", "--where", "{bad", "--home", home, "--json")
    assert code == 2 and one_json(out)["error"]["code"] == "invalid_filter"
    code, out = call(app, "ingest", "/nonexistent/folder", "--home", home, "--json")
    assert code == 2 and "nonexistent" in one_json(out)["error"]["message"]
    code, out = call(app, "query", "x", "-c", "Bad Name!", "--home", home, "--json")
    assert code == 2 and one_json(out)["error"]["code"] == "invalid_collection"


def test_usage_error_exit_2(app):
    code, _ = call(app, "query")  # missing argument
    assert code == 2


def test_terminal_output_without_json(app, corpus, home):
    code, out = call(app, "ingest", corpus, "--home", home)
    assert code == 0 and "added" in out
    code, out = call(app, "query", "escalation", "--home", home)
    assert code == 0 and "support.md" in out


def test_bench_ingest_json(app, corpus, monkeypatch):
    for name in ("RAGKIT_GENERATOR", "RAGKIT_EMBED_RUNTIME"):  # it measures the real embedder
        monkeypatch.delenv(name)
    code, out = call(app, "bench", "ingest", corpus)
    assert code == 0
    result = one_json(out)
    assert {"files", "chunks", "seconds", "chunks_per_s", "embed_only_s", "throughput_vs_embedding", "noop_seconds", "noop_fraction"} <= set(result)
    assert result["files"] == 3 and result["chunks"] >= 3 and 0 <= result["noop_fraction"] < 1
    assert result["embed_only_s"] > 0 and result["throughput_vs_embedding"] > 0
