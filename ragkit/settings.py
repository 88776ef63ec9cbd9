"""Settings: one pydantic-settings class (RAGKIT_ environment, optional TOML file), built by load_settings()."""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from ragkit.errors import ConfigError

DEFAULT_HOME = Path("~/.local/share/ragkit")
DEFAULT_CACHE = Path("~/.cache/ragkit")
MIB = 1024 * 1024


class Settings(BaseSettings):
    """Every knob ragkit reads; flags override the environment, which overrides the TOML file."""

    model_config = SettingsConfigDict(env_prefix="RAGKIT_", extra="forbid", frozen=True)

    home: Path = DEFAULT_HOME
    cache_dir: Path = DEFAULT_CACHE
    chroma_url: str | None = None
    embed_model: Path | None = None
    generator: str = Field(default="local", description="local | openai | llamacpp | fake, or a registered plugin (ragkit.plugins)")
    llm_path: Path | None = None
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None
    openai_context_window: int | None = Field(default=None, ge=256, description="the server model's window, when /models does not say")
    allow_remote: bool = False
    max_file_bytes: int = Field(default=25 * MIB, gt=0)

    # ingestion
    chunk_tokens: int = Field(default=200, ge=32, description="chunk budget in embedding-model tokens")
    chunk_overlap: int = Field(default=24, ge=0)
    embed_batch_size: int = Field(default=8, ge=1, description="sentences per forward pass; small batches pad less and ran fastest on CPU")
    embed_runtime: str = Field(
        default="onnx",
        description="onnx (ONNX Runtime on the CPU, no torch at run time; torch's vectors and id) | onnx-int8 | torch (on a CUDA GPU when torch sees one) "
        "| int8 (linear layers dynamically quantised: faster on CPU, vectors differ slightly) | fake, or a registered plugin",
    )
    parse_timeout_s: float = Field(default=120.0, gt=0)
    workers: int = Field(default=2, ge=1)
    archive_max_members: int = Field(default=2000, ge=1)
    archive_max_bytes: int = Field(default=512 * MIB, gt=0)
    archive_max_depth: int = Field(default=2, ge=0)

    # retrieval
    hybrid_alpha: float = Field(default=0.5, ge=0.0, le=1.0, description="weight of dense scores in hybrid fusion")
    fusion_depth: int = Field(default=100, ge=1)

    # generation and methods
    max_tokens: int = Field(default=64, ge=1, description="answer budget shared by every method")
    llm_threads: int | None = Field(default=None, ge=1, description="CPU threads of the local and llamacpp generators (None: every core); fewer on a machine shared with other work")
    temperature: float = Field(default=0.0, ge=0.0)
    rag_k: int = Field(default=3, ge=1, description="chunks shown to the model by rag")
    retrieve_k: int = Field(default=10, ge=1, description="chunks retrieved and reported")
    rag_context_tokens: int = Field(default=1500, ge=64)
    long_context_tokens: int | None = Field(default=None, ge=256, description="cap below the model window (None: the window)")
    abstain_min_dense: float = Field(default=0.0, ge=0.0, le=1.0)
    abstain_min_grounded: float = Field(default=0.5, ge=0.0, le=1.0, description="abstain when less of the answer than this occurs in the sources (answer_policy 'model')")
    answer_policy: Literal["span", "evidence", "model"] = Field(
        default="span",
        description="span: the span of the best-matching source sentences (a value, name, date, code, cell or phrase) the model finds most likely "
        "as the answer, the sentence as evidence, abstaining when no sentence matches well or no span is likely enough; evidence: keep the model's answer when its words come from the source sentence that best matches the question, "
        "else answer with that sentence, and abstain when no sentence matches well; model: the model's answer, checked by the abstain_* settings",
    )
    evidence_min_score: float = Field(default=0.5, ge=0.0, le=1.0, description="cosine (MiniLM) of the best source sentence below which a method with sources abstains")
    span_sentences: int = Field(default=2, ge=1, le=10, description="evidence sentences whose spans compete as the answer (answer_policy 'span')")
    span_min_logprob: float = Field(default=-8.0, le=0.0, description="mean token log-probability below which the best span is not an answer (answer_policy 'span')")
    evidence_min_agreement: float = Field(default=0.8, ge=0.0, le=1.0, description="share of the answer's words that must occur in that sentence to keep the model's wording")

    # the HTTP service
    max_upload_bytes: int = Field(default=512 * MIB, gt=0, description="largest upload request; bigger ones get 413")
    max_upload_files: int = Field(default=1000, ge=1, description="most files in one upload request")
    max_json_bytes: int = Field(default=4 * MIB, gt=0, description="largest JSON request body; bigger ones get 413, read no further than the limit")
    log_format: Literal["text", "json"] = "text"

    @field_validator("home", "cache_dir", "embed_model", "llm_path", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else Path(os.path.expanduser(str(value)))

    @field_validator("generator", "embed_runtime")
    @classmethod
    def _registered(cls, value: str, info) -> str:
        from ragkit.plugins import EMBEDDERS, GENERATORS

        registry = GENERATORS if info.field_name == "generator" else EMBEDDERS
        if value not in registry:
            raise ValueError(f"must be one of {', '.join(registry.names())}, not {value!r}")
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> "Settings":
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_tokens ({self.chunk_tokens})"
            )
        if self.generator == "openai" and not self.openai_base_url:
            raise ValueError("generator 'openai' needs openai_base_url (RAGKIT_OPENAI_BASE_URL)")
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        """Flags (init), then the environment, then the TOML file load_settings was given; no .env, no secrets dir."""
        toml = _TOML_SOURCE.get()
        return (init_settings, env_settings) + ((toml(settings_cls),) if toml else ())

    @property
    def resolved_openai_api_key(self) -> str | None:
        return self.openai_api_key or os.environ.get("OPENAI_API_KEY")


_TOML_SOURCE: ContextVar[Callable[[type[BaseSettings]], PydanticBaseSettingsSource] | None] = ContextVar("ragkit_toml_source", default=None)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from (lowest first) a TOML file, the environment, then explicit overrides.

    The TOML file is `config_file` or the one named by RAGKIT_CONFIG; its keys are the field
    names without the prefix (`home = "/data/ragkit"`), at the top or under a `[ragkit]` table.
    A key that is not a setting is an error naming it. None-valued overrides are ignored so
    callers can pass optional flags straight through.
    """
    path = config_file or os.environ.get("RAGKIT_CONFIG")
    toml = None
    if path:
        try:
            with open(path, "rb") as fh:
                table = ("ragkit",) if isinstance(tomllib.load(fh).get("ragkit"), dict) else None
        except FileNotFoundError as e:
            raise ConfigError(f"config file {path} does not exist") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from e

        def toml(settings_cls):
            return TomlConfigSettingsSource(settings_cls, toml_file=Path(path), toml_table_header=table)

    token = _TOML_SOURCE.set(toml)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        where = f" in {path}" if path and first.get("type") == "extra_forbidden" else ""
        raise ConfigError(f"invalid setting {field}{where}: {first.get('msg')}") from e
    finally:
        _TOML_SOURCE.reset(token)
