"""`ragkit bench generate` with tiny bounds on the real SmolLM2: the SPEC keys, positive figures, one JSON document."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ragkit.cli import build_app

pytestmark = pytest.mark.slow

KEYS = {"load_cold_s", "load_cached_s", "decode_tokens_per_s", "prefill_tokens_per_s", "lora_s_per_step", "settings"}


def test_bench_generate_prints_positive_figures():
    args = ["bench", "generate", "--decode-tokens", "4", "--prefill-tokens", "64", "--lora-steps", "1", "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert KEYS <= set(report)
    for key in KEYS - {"settings"}:
        assert isinstance(report[key], (int, float)) and report[key] > 0, key
    s = report["settings"]
    assert s["decode_tokens"] == 4 and s["lora_steps"] == 1
    assert s["cached_load_from_cache"] is True  # the second load read the dequantized copy
    assert 32 <= s["prefill_prompt_tokens"] <= 96
    assert s["lora"]["rank"] == 32 and s["lora"]["alpha"] == 64 and s["lora"]["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]  # the default recipe


def test_bad_bounds_are_usage_errors_and_generate_is_mounted_once():
    build_app()
    app = build_app()  # building the app twice must not mount the command twice
    listing = CliRunner().invoke(app, ["bench", "--help"]).output
    assert sum(line.split()[1:2] == ["generate"] for line in listing.splitlines()) == 1
    bad = CliRunner().invoke(app, ["bench", "generate", "--decode-tokens", "0"])
    assert bad.exit_code == 2


def test_bench_generate_llamacpp_prints_the_same_keys(monkeypatch):
    pytest.importorskip("llama_cpp")
    monkeypatch.setenv("RAGKIT_GENERATOR", "llamacpp")  # the configured generator is the default
    result = CliRunner().invoke(build_app(), ["bench", "generate", "--decode-tokens", "8", "--prefill-tokens", "600", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["generator"] == "llamacpp" and KEYS <= set(report)
    assert report["decode_tokens_per_s"] > 0 and report["prefill_tokens_per_s"] > 0 and report["lora_s_per_step"] is None
    assert 500 <= report["settings"]["prefill_prompt_tokens"] <= 700
    bad = CliRunner().invoke(build_app(), ["bench", "generate", "--generator", "vllm", "--json"])
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"]["code"] == "invalid_generator"
