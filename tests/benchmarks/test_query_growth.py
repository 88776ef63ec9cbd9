"""benchmarks/query_growth.py at 300 chunks: the home is built through ragkit's storage, every mode is timed, and a rerun reuses the home."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_DATA, load_benchmark

SCIFACT = SHARED_DATA / "beir-scifact"

@pytest.mark.slow
@pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").exists(), reason="needs ../shared/data/beir-scifact")
def test_builds_times_and_reuses_a_tiny_home(tmp_path, capsys):
    bench = load_benchmark("query_growth")
    cache, out = tmp_path / "cache", tmp_path / "growth.json"

    assert bench.main(["300", "--queries", "10", "--base-docs", "20", "--cache", str(cache), "--out", str(out)]) == 0

    report = json.loads(out.read_text(encoding="utf-8"))
    assert json.loads(capsys.readouterr().out) == report
    assert {"benchmark", "texts", "vectors", "base_docs", "machine", "versions", "results"} <= report.keys()
    assert report["base_docs"] == 20 and "MiniLM" in report["vectors"]
    (result,) = report["results"]
    assert {"size", "build", "chunks", "queries", "latency_ms", "embed_query_ms", "cold_first_query_ms", "hybrid_hits", "rss_mb"} <= result.keys()
    assert result["size"] == result["chunks"] == result["build"]["chunks"] == 300
    assert result["build"]["cached"] is False and result["build"]["documents"] > 0
    assert {"seconds", "write_s", "bm25_s", "peak_rss_mb", "disk_mb"} <= result["build"].keys()
    assert result["build"]["disk_mb"]["manifest"] > 0 and result["build"]["disk_mb"]["chroma"] > 0 and result["build"]["disk_mb"]["bm25"] > 0
    assert set(result["latency_ms"]) == {"hybrid_e2e", "hybrid", "dense", "bm25"}
    for timing in [*result["latency_ms"].values(), result["embed_query_ms"]]:
        assert 0 < timing["p50"] <= timing["p95"]
    # every query found chunks through the normal HybridRetriever, and the top one is a stored chunk
    assert result["queries"] == 10 and result["hybrid_hits"] == {"queries_with_hits": 10, "mean_hits": 10.0}
    assert result["example"]["top_chunk_id"]
    assert result["rss_mb"]["after_open"] > 0

    # a rerun reuses the built home and its recorded build figures
    assert bench.main(["300", "--queries", "3", "--base-docs", "20", "--cache", str(cache)]) == 0
    (again,) = json.loads(capsys.readouterr().out)["results"]
    assert again["build"] == {**result["build"], "cached": True}
    assert again["chunks"] == 300 and again["hybrid_hits"]["queries_with_hits"] == 3
