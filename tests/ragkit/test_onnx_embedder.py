"""`embed_runtime = "onnx"` / `"onnx-int8"`: the real MiniLM on ONNX Runtime, exported once into the cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import ragkit.embedding.onnx_runtime as onnx_runtime
from ragkit.embedding.encoder import SentenceTransformerEmbedder
from ragkit.embedding.onnx_runtime import OnnxEmbedder
from tests.conftest import ROOT, SHARED_DATA

HEAVY = ("torch", "transformers", "sentence_transformers", "unstructured", "spacy")


def real_texts(n_docs: int = 80, n_queries: int = 40) -> list[str]:
    """SciFact abstracts (long: many hit the 256-token cut) and claims (short), and the example corpus's Markdown."""
    texts = [t.read_text(encoding="utf-8")[:4000] for t in sorted((ROOT / "examples" / "corpus").rglob("*.md"))]
    scifact = SHARED_DATA / "beir-scifact"
    if scifact.exists():
        with open(scifact / "corpus.jsonl", encoding="utf-8") as f:
            texts += [(lambda d: f"{d['title']} {d['text']}")(json.loads(line)) for _, line in zip(range(n_docs), f)]
        with open(scifact / "queries.jsonl", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for _, line in zip(range(n_queries), f)]
    return texts + ["", "x", "word " * 600]  # empty, one token, far past the window


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return real_texts()


@pytest.fixture(scope="module")
def torch_vectors(texts) -> np.ndarray:
    return SentenceTransformerEmbedder().embed_documents(texts)


@pytest.fixture(scope="module")
def onnx(model_cache) -> OnnxEmbedder:
    return OnnxEmbedder(cache_dir=model_cache)


def test_fp32_vectors_are_torchs_and_keep_its_id(onnx, texts, torch_vectors):
    vectors = onnx.embed_documents(texts)
    assert vectors.dtype == np.float32 and vectors.shape == torch_vectors.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * torch_vectors).sum(axis=1)
    # the shared embedder id rests on this: measured 0.9999999 (float rounding) over 305 texts
    assert cosine.min() >= 0.9999, f"min cosine {cosine.min():.6f}: onnx vectors are not torch's; give onnx its own embedder id"
    torch_embedder = SentenceTransformerEmbedder()
    assert onnx.embedder_id == torch_embedder.embedder_id == "all-MiniLM-L6-v2"
    assert (onnx.dimension, onnx.max_tokens) == (384, torch_embedder.max_tokens)
    # one query on one thread is the same vector as in a batch
    for i in (0, len(texts) // 2, len(texts) - 1):
        assert float(onnx.embed_query(texts[i]) @ torch_vectors[i]) >= 0.9999
    assert onnx.embed_documents([]).shape == (0, 384)


def test_token_counts_are_the_chunkers(onnx):
    from ingest.worker import _token_counter

    text = "Vitamin D deficiency is associated with fractures. " * 100  # far past the 256-token window: counted, not cut
    assert onnx.count_tokens(text) == _token_counter(str(onnx.path))(text) == SentenceTransformerEmbedder().count_tokens(text) > 256


def test_int8_stays_close_to_fp32_and_has_its_own_id(model_cache, onnx, texts):
    int8 = OnnxEmbedder(cache_dir=model_cache, runtime="onnx-int8")
    assert int8.embedder_id == "all-MiniLM-L6-v2+onnx-int8"
    a, b = onnx.embed_documents(texts), int8.embed_documents(texts)
    cosine = (a * b).sum(axis=1)
    real, odd = cosine[:-3], cosine[-3:]  # the last three: empty, one letter, one word repeated
    # measured over 305 real texts: min 0.988, mean 0.994 (torch's int8 against torch: min 0.965, mean 0.981);
    # the empty text, [CLS] [SEP] alone, moves most: 0.975
    assert real.min() > 0.98 and real.mean() > 0.99 and odd.min() > 0.96 and not np.allclose(a, b)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    # each text's nearest other text under fp32 stays among int8's three nearest (measured: 127 of 128)
    nearest = (a @ a.T - 2 * np.eye(len(a))).argmax(axis=1)
    top3 = np.argsort(-(b @ b.T - 2 * np.eye(len(b))), axis=1)[:, :3]
    assert np.mean([nearest[i] in top3[i] for i in range(len(a))]) >= 0.97


def test_export_is_cached_reused_and_redone_for_a_changed_model(tmp_path, monkeypatch):
    calls = []
    real_export = onnx_runtime.export_onnx
    monkeypatch.setattr(onnx_runtime, "export_onnx", lambda src, dst: (calls.append(dst), real_export(src, dst)))
    cache = tmp_path / "cache"
    first = OnnxEmbedder(cache_dir=cache)
    v1 = first.embed_query("Hotel costs are reimbursed up to 140 euros per night.")
    assert first.exported and len(calls) == 1 and first.model_file.parent.parent == cache / "onnx"
    assert [p.name for p in first.folder.iterdir() if p.name.endswith(".tmp")] == []  # written to a temporary name, then renamed
    mtime = first.model_file.stat().st_mtime_ns

    second = OnnxEmbedder(cache_dir=cache)
    assert np.array_equal(second.embed_query("Hotel costs are reimbursed up to 140 euros per night."), v1)
    assert not second.exported and len(calls) == 1 and second.model_file.stat().st_mtime_ns == mtime

    # a model folder whose weights changed (here: only their mtime) is exported again, elsewhere
    folder = tmp_path / "model"
    shutil.copytree(first.path, folder)
    os.utime(folder / "model.safetensors", ns=(1, 1))
    changed = OnnxEmbedder(folder, cache_dir=cache)
    assert changed.folder != first.folder
    changed.embed_query("x")
    assert changed.exported and len(calls) == 2


def test_a_folder_saved_by_this_sentence_transformers_gives_torchs_vectors(tmp_path, texts):
    """tune-embeddings saves with sentence-transformers 6: new module names, `pooling_mode`, the window in tokenizer_config.json."""
    from sentence_transformers import SentenceTransformer

    folder = tmp_path / "saved"
    SentenceTransformer(str(OnnxEmbedder().path), device="cpu", local_files_only=True).save(str(folder))
    assert "max_seq_length" not in json.loads((folder / "sentence_bert_config.json").read_text())
    torch_embedder, onnx_embedder = SentenceTransformerEmbedder(folder), OnnxEmbedder(folder, cache_dir=tmp_path / "cache")
    assert onnx_embedder.max_tokens == torch_embedder.max_tokens == 254 and onnx_embedder.dimension == 384
    sample = texts[:5] + texts[-3:]  # the long Markdown files and the text far past the window
    cosine = (onnx_embedder.embed_documents(sample) * torch_embedder.embed_documents(sample)).sum(axis=1)
    assert cosine.min() >= 0.9999


def test_a_model_onnx_cannot_run_is_refused_by_name(tmp_path):
    from ragkit.errors import ConfigError

    folder = tmp_path / "dense-head"
    shutil.copytree(OnnxEmbedder().path, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match="Dense"):
        OnnxEmbedder(folder, cache_dir=tmp_path / "cache")


def test_a_forked_child_never_destroys_an_inherited_session(model_cache):
    """The parser workers are forked; freeing a parent's session in one hung it for ever (its pool's threads are gone)."""
    import gc
    import signal
    import time

    gc.disable()  # the cycle below stays uncollected until the child collects it
    try:
        embedder = OnnxEmbedder(cache_dir=model_cache, threads=2)
        embedder.embed_documents(["Hotel costs are reimbursed.", "The drill draws 2.8 A."])  # a session with a thread pool
        embedder.cycle = embedder
        del embedder
        pid = os.fork()
        if pid == 0:  # the child: collect the garbage, i.e. the embedder and its session
            gc.collect()
            os._exit(0)
    finally:
        gc.enable()
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("a forked child hung freeing a session it inherited")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(done[1]) == 0


def test_the_registry_builds_it_from_settings(model_cache, home):
    import ragkit

    with ragkit.open(home, embed_runtime="onnx-int8", cache_dir=model_cache) as kb:
        assert isinstance(kb.embedder, OnnxEmbedder) and kb.embedder.runtime == "onnx-int8"
        assert kb.embedder.folder.parent == model_cache / "onnx"


# The heavy libraries a process loaded, printed as JSON on the last stderr line after the CLI ran.
_LOADED = (
    "import json, sys\n"
    "from ragkit.cli.app import main\n"
    "sys.argv = ['ragkit', *sys.argv[1:]]\n"
    "try:\n    main()\n"
    "except SystemExit as e:\n    code = e.code\n"
    "heavy = sorted({m.split('.')[0] for m in sys.modules} & set(%r))\n"
    "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
) % (HEAVY,)


def run_cli(*args: str, env: dict[str, str]) -> tuple[dict, dict]:
    proc = subprocess.run([sys.executable, "-c", _LOADED, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    status = json.loads(proc.stderr.strip().splitlines()[-1])
    assert status["code"] in (0, None), proc.stdout + proc.stderr
    return json.loads(proc.stdout), status


def test_onnx_query_and_plain_text_ingest_import_no_torch(corpus, home, model_cache):
    env = {**os.environ, "RAGKIT_HOME": str(home), "RAGKIT_CACHE_DIR": str(model_cache), "RAGKIT_EMBED_RUNTIME": "onnx", "DO_NOT_TRACK": "1"}
    OnnxEmbedder(cache_dir=model_cache).ensure_exported()  # exporting is the one step that needs torch
    report, status = run_cli("ingest", str(corpus), "-c", "tiny", "--json", env=env)
    assert report["added"] == 3 and report["failed"] == []
    assert status["heavy"] == [], f"ingest of .md/.txt with the onnx runtime imported {status['heavy']}"
    result, status = run_cli("query", "How many amps does the drill draw?", "-c", "tiny", "-k", "2", "--json", env=env)
    assert result["hits"][0]["source"] == "osprey-4-manual.md"
    assert status["heavy"] == [], f"query with the onnx runtime imported {status['heavy']}"
