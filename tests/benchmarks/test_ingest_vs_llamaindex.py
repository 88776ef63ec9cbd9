"""benchmarks/ingest_vs_llamaindex.py on five tiny text files: both systems index them, and neither re-indexes them."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import load_benchmark, write_corpus

FILES = {
    f"note-{i}.txt": f"Note {i}\n\nThe Kestrel depot number {i} opens at {7 + i}:00 and keeps {i * 12} drills in stock.\n"
    for i in range(5)
}

@pytest.mark.slow
def test_compares_both_systems_on_the_same_files(tmp_path, capsys):
    folder = write_corpus(tmp_path / "files", FILES)
    work = tmp_path / "work"
    out = tmp_path / "result.json"
    threads_before = torch.get_num_threads()

    assert load_benchmark("ingest_vs_llamaindex").main([str(folder), "--out", str(out), "--workdir", str(work), "--threads", "1", "--runtimes", "torch,int8"]) == 0

    result = json.loads(out.read_text(encoding="utf-8"))
    assert json.loads(capsys.readouterr().out) == result
    assert {"files", "ragkit", "llamaindex", "embed_only_s", "speedup", "versions", "machine", "date"} <= result.keys()
    rk, li = result["ragkit"], result["llamaindex"]
    assert {"seconds", "chunks", "chunks_per_s", "files_per_s", "noop_seconds"} <= rk.keys()
    assert {"seconds", "nodes", "nodes_per_s", "files_per_s", "noop_seconds", "num_workers", "chunk_size", "chunk_overlap"} <= li.keys()
    assert result["files"] == 5
    assert rk["chunks"] > 0 and rk["failed"] == 0
    assert li["nodes"] > 0 and li["stored"] == li["nodes"] and li["documents"] == 5
    # the second run found every file unchanged and embedded nothing
    assert rk["noop_unchanged"] == 5
    assert li["noop_nodes"] == 0
    assert (li["chunk_size"], li["chunk_overlap"]) == (rk["chunk_tokens"], rk["chunk_overlap"])
    assert result["speedup"] == pytest.approx(li["seconds"] / rk["seconds"], rel=0.01)
    assert rk["embed_runtime"] == "torch"
    int8 = result["ragkit_int8"]  # the same files through the int8 runtime, in its own home
    assert int8["embed_runtime"] == "int8" and int8["chunks"] == rk["chunks"] and int8["seconds"] > 0
    assert int8["speedup"] == pytest.approx(li["seconds"] / int8["seconds"], rel=0.01)
    assert result["machine"]["torch_threads"] == 1
    assert result["versions"]["llama-index-core"] and result["versions"]["llama-index-vector-stores-chroma"]
    assert list(work.iterdir()) == []  # the temporary homes are gone
    assert torch.get_num_threads() == threads_before  # the process-wide pool is put back


def test_document_batches_stay_under_chromas_batch_limit():
    from types import SimpleNamespace

    batches = load_benchmark("ingest_vs_llamaindex").document_batches
    docs = [SimpleNamespace(text="x" * n) for n in (100, 5000, 40, 35_200, 10)]
    # worst-case nodes per document at a 176-token stride: 2, 16, 2, 102, 2
    out = batches(docs, 110, 176)
    assert [len(b) for b in out] == [3, 2] and [d for b in out for d in b] == docs
    assert batches([], 110, 176) == []
    assert len(batches(docs, 1, 176)) == 5  # a document larger than the limit still goes, alone


def test_runtimes_are_the_embedders_ragkit_knows(tmp_path, capsys):
    main = load_benchmark("ingest_vs_llamaindex").main
    with pytest.raises(SystemExit) as bad:
        main([str(tmp_path), "--runtimes", "onnx,cuda-magic"])
    assert bad.value.code == 2
    err = capsys.readouterr().err
    assert "onnx, onnx-int8, torch" in err and "cuda-magic" in err
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--runtimes", "onnx,onnx"])  # each once
