"""`ragkit eval` end to end on a 3-document corpus: every method, report files, resume, Chromium rendering."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import ragkit
from ragkit.errors import NotFound
from ragkit.methods import METHODS
from tests.conftest import write_corpus

pytestmark = pytest.mark.slow

SPEC_KEYS = {
    "n", "n_answerable", "accuracy", "exact_match", "f1", "abstain_accuracy", "false_abstain_rate",
    "retrieval_hit_at_5", "mrr", "latency_p50_ms", "latency_p95_ms", "prompt_tokens_mean", "answer_tokens_mean", "ci95",
}

QUESTIONS = [
    {"id": "q1", "question": "How many amps does the Osprey 4 draw at full load?", "answer": "2.8 A", "aliases": ["2.8 amps"], "source": "osprey-4-manual.md", "kind": "lookup"},
    {"id": "q2", "question": "How long is the Osprey 4 warranty?", "answer": "36 months", "source": ["osprey-4-manual.md"], "kind": "lookup"},
    {"id": "q3", "question": "Who handles escalated support tickets?", "answer": "Marta Quintela", "source": "support.md", "kind": "people"},
    {"id": "q4", "question": "What is the CEO's shoe size?", "answer": "UNANSWERABLE", "source": [], "kind": "unanswerable"},
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, model_cache):
    root = tmp_path_factory.mktemp("eval")
    evalset = root / "eval.jsonl"
    evalset.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    home = root / "home"
    with ragkit.open(home, cache_dir=model_cache) as kb:
        col = kb.collection("default")
        col.ingest(write_corpus(root / "corpus"))
        col.finetune(name="tiny", data=["raw"], steps=2, exclude_eval=str(evalset))
    return root, home, evalset


def test_every_method_report_files_and_fields(setup, model_cache):
    root, home, evalset = setup
    out = root / "report"
    with ragkit.open(home, cache_dir=model_cache, max_tokens=16) as kb:
        result = kb.collection("default").evaluate(evalset, out=out)
    assert set(result["methods"]) == set(METHODS)
    for name, summary in result["methods"].items():
        assert SPEC_KEYS <= set(summary), name
        assert summary["n"] == 4 and summary["n_answerable"] == 3
        for key in ("accuracy", "exact_match", "f1", "abstain_accuracy", "false_abstain_rate"):
            assert 0.0 <= summary[key] <= 1.0
    assert result["methods"]["closed-book"]["retrieval_hit_at_5"] is None  # does not apply
    assert result["methods"]["rag"]["retrieval_hit_at_5"] == 1.0
    assert result["methods"]["lora"]["one_off"]["name"] == "tiny"
    assert len(result["pairs"]) == len(METHODS) * (len(METHODS) - 1) // 2
    assert all({"a", "b", "diff", "p_value"} <= set(p) for p in result["pairs"])
    report = json.loads((out / "report.json").read_text())
    device = "cuda" if torch.cuda.is_available() else "cpu"  # where this run generated
    assert report["generator"] == {"kind": "local", "model": "SmolLM2-135M-Instruct.Q4_1", "remote": False, "device": device}
    assert report["embedder"] == {"name": "base", "id": "all-MiniLM-L6-v2", "stale": False}
    assert {"python", "platform"} <= set(report["environment"])
    assert len(report["questions"]) == 4
    q1 = report["questions"][0]["results"]["rag"]
    assert q1["answer"]["citations"] and "accuracy" in q1["scores"]
    assert set(report["by_kind"]["rag"]) == {"lookup", "people", "unanswerable"}
    md = (out / "report.md").read_text()
    assert "| rag |" in md and "McNemar" in md
    assert Path(result["report"]) == out / "report.html"


def test_rerun_and_interrupted_run_resume_from_cache(setup, model_cache, monkeypatch):
    root, home, evalset = setup
    from ragkit.methods.rag import RagMethod

    with ragkit.open(home, cache_dir=model_cache, max_tokens=12) as kb:
        original = RagMethod.answer
        calls = {"n": 0}

        def flaky(self, question):
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt  # the run dies on its third rag answer
            return original(self, question)

        monkeypatch.setattr(RagMethod, "answer", flaky)
        with pytest.raises(KeyboardInterrupt):
            kb.collection("default").evaluate(evalset, methods=["rag"], out=root / "r1")
        monkeypatch.setattr(RagMethod, "answer", original)
        kb.collection("default").evaluate(evalset, methods=["rag"], out=root / "r2")
        resumed = json.loads((root / "r2" / "report.json").read_text())
        assert resumed["cached_answers"] == 2  # the two answers before the crash were kept
        kb.collection("default").evaluate(evalset, methods=["rag"], out=root / "r3")
        again = json.loads((root / "r3" / "report.json").read_text())
        assert again["cached_answers"] == 4
        for key in ("accuracy", "f1", "exact_match", "abstain_accuracy", "prompt_tokens_mean", "latency_p50_ms"):
            assert again["methods"]["rag"][key] == resumed["methods"]["rag"][key]  # cached answers, same scores


def test_adapter_method_without_adapter_is_a_clear_error(tmp_path, model_cache):
    evalset = tmp_path / "e.jsonl"
    evalset.write_text(json.dumps(QUESTIONS[0]) + "\n")
    with ragkit.open(tmp_path / "h", cache_dir=model_cache) as kb:
        kb.collection("default").ingest(write_corpus(tmp_path / "c"))
        with pytest.raises(NotFound, match="ragkit finetune"):
            kb.collection("default").evaluate(evalset, methods=["lora"])


def test_html_report_renders_in_headless_chromium(setup, tmp_path):
    root, _, _ = setup
    html = root / "report" / "report.html"
    if not html.exists():
        pytest.skip("needs the report of test_every_method_report_files_and_fields")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "Debian chromium is required (.ci/run installs it)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count('class="bar"') == len(METHODS)
    assert dom.count('class="point"') == len(METHODS)
    for table in ("methods-table", "pairs-table", "kind-table", "questions-table"):
        assert f'id="{table}"' in dom
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,1600", html.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    artifacts = Path(__file__).resolve().parents[1] / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(shot, artifacts / "eval-report.png")
