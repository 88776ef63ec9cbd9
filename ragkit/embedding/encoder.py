"""Embedders: text -> vectors. The default is the bundled MiniLM through sentence-transformers."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ragkit.errors import ConfigError, ModelError
from ragkit.model_paths import BUNDLED_EMBEDDER_ID, bundled_embedder_path, torch_device

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """One contract for every embedding backend; vectors are L2-normalised float32."""

    embedder_id: str
    dimension: int
    max_tokens: int
    path: Path  # the model folder; its tokenizer measures chunks
    batch_size: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def _folder_fingerprint(path: Path) -> str:
    """A short id for a model folder's weights, so a changed model re-embeds everything."""
    h = hashlib.sha256()
    for name in ("config.json", "modules.json", "model.safetensors", "pytorch_model.bin"):
        f = path / name
        if f.exists():
            stat = f.stat()
            h.update(f"{name}:{stat.st_size}".encode())
    return h.hexdigest()[:12]


def resolve_embedder_path(model_path: Path | None) -> tuple[Path, str]:
    """The model folder to load and its stable id (the bundled one, or a local folder)."""
    if model_path is None:
        return bundled_embedder_path(), BUNDLED_EMBEDDER_ID
    path = Path(model_path)
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise ConfigError(
            f"embed_model {path} is not a sentence-transformers model folder (no config.json or modules.json)"
        )
    return path, f"{path.name}@{_folder_fingerprint(path)}"


class SentenceTransformerEmbedder:
    """sentence-transformers on a CUDA GPU when torch sees one, else the CPU (int8: always the CPU);
    loaded lazily, once, on first use."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 8, embedder_id: str | None = None, runtime: str = "torch"):
        self.path, self.embedder_id = resolve_embedder_path(model_path)
        self.embedder_id = embedder_id or self.embedder_id
        if runtime not in RUNTIMES:
            raise ConfigError(f"embed_runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        self.runtime = runtime
        if runtime != "torch":  # other vectors: documents embedded before are re-embedded on the next ingest
            self.embedder_id += f"+{runtime}"
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        try:
            from sentence_transformers import SentenceTransformer

            device = "cpu" if self.runtime == "int8" else torch_device()  # dynamic int8 kernels are CPU-only
            model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
        except Exception as e:  # any loading failure is a model error naming the folder
            raise ModelError(f"could not load embedding model from {self.path}: {e}") from e
        if self.runtime == "int8":
            model = quantize_int8(model)
        log.info("loaded embedding model %s (%s)", self.path, self.runtime)
        return model

    @property
    def tokenizer(self):
        """The model's fast tokenizer, loaded without the weights (cheap; used by the chunker)."""
        if self._tokenizer is None:
            if self._model is not None:
                self._tokenizer = self._model.tokenizer
            else:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        return self._tokenizer

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """Content tokens that reach the model: its window less [CLS] and [SEP]."""
        return max_seq_length(self.path) - 2

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        """One short text on one torch thread: a second thread only adds hand-off cost at this size,
        and on a busy machine (a server under load) it cost 400-750 ms against 23-27 ms on one."""
        with _ONE_THREAD:
            return self.embed_documents([text])[0]


class _OneTorchThread:
    """Runs its body with torch's intra-op pool at one thread; nests and overlaps across Python threads
    (the pool size is process-wide: it is restored when the last overlapping body ends)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = 1

    def __enter__(self):
        import torch

        with self._lock:
            if self._depth == 0:
                self._saved = torch.get_num_threads()
                torch.set_num_threads(1)
            self._depth += 1

    def __exit__(self, *exc):
        import torch

        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                torch.set_num_threads(self._saved)


_ONE_THREAD = _OneTorchThread()


RUNTIMES = ("torch", "int8")


def quantize_int8(model):
    """Dynamic int8 quantisation of the linear layers, one scale per output channel (per-tensor
    scales moved MiniLM's vectors to a mean cosine of 0.93 with fp32; per channel, 0.98)."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def max_seq_length(path: Path) -> int:
    """The sequence limit sentence-transformers applies: sentence_bert_config.json's `max_seq_length`
    (sentence-transformers < 6 writes it there), else the tokenizer's `model_max_length` (6.x), capped
    by the model's position embeddings (which are the limit when neither is given; 512 without them)."""
    import json

    def read(name: str) -> dict:
        try:
            return json.loads((Path(path) / name).read_text())
        except (OSError, ValueError):
            return {}

    positions = read("config.json").get("max_position_embeddings")
    for value in (read("sentence_bert_config.json").get("max_seq_length"), read("tokenizer_config.json").get("model_max_length")):
        if isinstance(value, (int, float)) and 0 < value < 1_000_000:  # transformers writes 1e30 for "no limit"
            return int(min(value, positions)) if isinstance(positions, int) else int(value)
    return int(positions) if isinstance(positions, int) else 512


def from_settings(settings, model_path: Path | None = None, embedder_id: str | None = None, runtime: str = "torch") -> SentenceTransformerEmbedder:
    """The `torch` and `int8` entries of the embedder registry (`model_path` None: the configured model)."""
    return SentenceTransformerEmbedder(model_path if model_path is not None else settings.embed_model, settings.embed_batch_size, embedder_id=embedder_id, runtime=runtime)


def make_embedder(settings, model_path: Path | None = None, embedder_id: str | None = None) -> Embedder:
    """The embedder of `settings.embed_runtime` in the registry, on `model_path` (default: the configured model)."""
    from ragkit.plugins import EMBEDDERS

    return EMBEDDERS.get(settings.embed_runtime)(settings, model_path, embedder_id, settings.embed_runtime)
