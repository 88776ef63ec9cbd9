"""Settings: flags over the environment over the TOML file; unknown keys and bad combinations are named."""

from __future__ import annotations

import pytest

from ragkit.errors import ConfigError
from ragkit.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("RAGKIT_"):
            monkeypatch.delenv(key)


def test_flags_beat_the_environment_which_beats_the_file(tmp_path, monkeypatch):
    config = tmp_path / "ragkit.toml"
    config.write_text("chunk_tokens = 100\nrag_k = 5\nhybrid_alpha = 0.3\n")
    assert load_settings(config).chunk_tokens == 100
    monkeypatch.setenv("RAGKIT_CHUNK_TOKENS", "300")
    s = load_settings(config, rag_k=7, hybrid_alpha=None)  # None: a flag not given
    assert (s.chunk_tokens, s.rag_k, s.hybrid_alpha) == (300, 7, 0.3)


def test_the_file_named_by_ragkit_config_under_a_ragkit_table(tmp_path, monkeypatch):
    config = tmp_path / "c.toml"
    config.write_text('[ragkit]\nhome = "~/somewhere"\nmax_tokens = 16\n')
    monkeypatch.setenv("RAGKIT_CONFIG", str(config))
    s = load_settings()
    assert s.max_tokens == 16 and "~" not in str(s.home) and s.home.name == "somewhere"


@pytest.mark.parametrize("text", ["chunk_tokenz = 100\n", "[ragkit]\ntop_k = 5\n"])  # a typo; a setting that no longer exists
def test_an_unknown_key_in_the_file_is_an_error_naming_it(tmp_path, text):
    config = tmp_path / "c.toml"
    config.write_text(text)
    key = text.split("\n")[-2].split(" ")[0]
    with pytest.raises(ConfigError, match=rf"invalid setting {key} in .*c\.toml"):
        load_settings(config)


def test_a_missing_or_broken_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("chunk_tokens = = 3")
    with pytest.raises(ConfigError, match="bad.toml is not valid TOML"):
        load_settings(tmp_path / "bad.toml")


def test_bad_values_and_combinations_name_the_field(monkeypatch):
    with pytest.raises(ConfigError, match="chunk_overlap .* must be smaller than chunk_tokens"):
        load_settings(chunk_tokens=50, chunk_overlap=60)
    monkeypatch.setenv("RAGKIT_RAG_K", "0")
    with pytest.raises(ConfigError, match="invalid setting rag_k"):
        load_settings()
    monkeypatch.delenv("RAGKIT_RAG_K")
    with pytest.raises(ConfigError, match="openai_base_url"):
        load_settings(generator="openai")
