"""Embedders on ONNX Runtime: the `onnx` and `onnx-int8` entries of the embedder registry.

The same sentence-transformers model folder as the torch runtime, run without torch:
`tokenizers` (the folder's tokenizer.json) cuts and pads the text exactly as sentence-transformers
does (truncation at the folder's `max_seq_length`), ONNX Runtime runs the transformer, and
numpy pools its token vectors as the folder's `1_Pooling/config.json` says (MiniLM: the mean over
the attention mask) and L2-normalises them.

The ONNX file is exported once from the folder's own weights (this step alone needs torch and
transformers, about 1.5-3 s for MiniLM) into the cache, `cache_dir/onnx/<model>-<key>/model.onnx`,
where the key covers the folder's path and its weight files' sizes and modification times, so a
changed model is exported again. `onnx-int8` quantises that file once more (dynamic int8, one scale
per output channel) beside it. Files are written to a temporary name and renamed, so a process
killed mid-export, or two processes exporting at once, never leave a half-written model behind.
Loading an exported model imports neither torch nor transformers.

Vector identity: fp32 ONNX vectors equal torch's to float rounding (minimum cosine 0.9999999 over
300 SciFact abstracts and queries), so `onnx` keeps the torch runtime's embedder id and switching
between the two re-embeds nothing. `onnx-int8` vectors differ (like torch's `int8`) and carry
`+onnx-int8`, so switching to it re-embeds on the next ingest.

Threads: one query runs on one intra-op thread (a pool only adds hand-off cost for one short text
and, on a busy machine, waits for cores; see encoder.py's embed_query); batches run on every CPU
this process may use. ONNX Runtime here is the CPU build: a GPU machine embeds faster with `torch`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Sequence

import numpy as np

from ragkit.embedding.encoder import max_seq_length, resolve_embedder_path
from ragkit.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

RUNTIMES = ("onnx", "onnx-int8")
EXPORT_VERSION = 1  # bump when the export recipe changes: every cached file is made again
OPSET = 17
_WEIGHT_FILES = ("config.json", "model.safetensors", "pytorch_model.bin")
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")  # class names, under sentence_transformers.
_POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens")
# sentence-transformers < 6 flags, in its concatenation order; 6.x names the modes itself
_LEGACY_POOLING = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask), not the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def export_dir(model_dir: Path, base_id: str, cache_dir: Path) -> Path:
    """Where a model folder's exported files live: keyed by its path and its weight files' sizes and mtimes.

    The embedder id's fingerprint uses sizes only (a retrained model of the same shape keeps its
    size); a stale export would give wrong vectors silently, so this key also covers mtimes."""
    h = hashlib.sha256(f"v{EXPORT_VERSION}:{Path(model_dir).resolve()}".encode())
    for name in _WEIGHT_FILES:
        f = Path(model_dir) / name
        if f.exists():
            st = f.stat()
            h.update(f":{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", base_id).strip("._") or "model"
    return Path(cache_dir) / "onnx" / f"{safe[:80]}-{h.hexdigest()[:12]}"


def _write_atomically(target: Path, write) -> None:
    """`write(tmp_path)` then rename onto `target`; the temporary file is removed on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_onnx(model_dir: Path, target: Path) -> None:
    """The folder's transformer (token vectors out) as an ONNX file, through torch's TorchScript exporter."""
    import warnings

    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    names = _input_names(model)

    class TokenVectors(torch.nn.Module):
        """Keyword arguments: BertModel.forward's positional order is not (ids, mask, types) in every version."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs))).last_hidden_state

    # two rows, the second padded: the traced graph must keep the attention mask
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 1012, 102], [101, 7592, 102, 0, 0, 0, 0, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    axes = {n: {0: "batch", 1: "sequence"} for n in (*names, "token_vectors")}

    def write(tmp: Path) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about python bools in attention code
            torch.onnx.export(
                TokenVectors(model), tuple(feed[n] for n in names), str(tmp), dynamo=False, opset_version=OPSET,
                input_names=list(names), output_names=["token_vectors"], dynamic_axes=axes,
            )

    _write_atomically(target, write)


def _input_names(model) -> tuple[str, ...]:
    import inspect

    params = inspect.signature(model.forward).parameters
    return tuple(n for n in ("input_ids", "attention_mask", "token_type_ids") if n in params)


def quantize_onnx(source: Path, target: Path) -> None:
    """Dynamic int8 weights, one scale per output channel (per-tensor scales moved MiniLM further from fp32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def write(tmp: Path) -> None:
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # its advice to pre-process: that step fails on this graph (incomplete shape inference)
        try:
            quantize_dynamic(str(source), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
        finally:
            logging.disable(previous)

    _write_atomically(target, write)


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _model_layout(path: Path) -> tuple[tuple[str, ...], int, bool, str]:
    """(pooling modes, output dimension, lower-case first, prompt) as sentence-transformers reads the folder.

    Both layouts: modules.json with `sentence_transformers.models.Pooling` and `pooling_mode_*` flags
    (sentence-transformers < 6, the bundled MiniLM), and `...modules.pooling.Pooling` with
    `pooling_mode` / `embedding_dimension` (6.x, what tune-embeddings saves)."""
    pooling_dir = None
    for m in _read(path / "modules.json") or []:
        kind = str(m.get("type", ""))
        if not kind.startswith("sentence_transformers.") or kind.rsplit(".", 1)[-1] not in _SUPPORTED_MODULES:
            raise ConfigError(
                f"embed_runtime onnx runs Transformer, Pooling and Normalize modules; {path} has {kind} (use embed_runtime torch for this model)"
            )
        if kind.endswith(".Pooling"):
            pooling_dir = path / m.get("path", "1_Pooling")
    st_config = _read(path / "sentence_bert_config.json")
    if st_config.get("transformer_task", "feature-extraction") != "feature-extraction":
        raise ConfigError(f"{path}: transformer_task {st_config['transformer_task']!r}; embed_runtime onnx runs feature-extraction models only")
    hidden = int(_read(path / "config.json").get("hidden_size", 0))
    modes: tuple[str, ...] = ("mean",)  # sentence-transformers' default for a plain transformers folder
    include_prompt = True
    if pooling_dir is not None:
        pool = _read(pooling_dir / "config.json")
        hidden = int(pool.get("embedding_dimension", pool.get("word_embedding_dimension", hidden)))
        include_prompt = bool(pool.get("include_prompt", True))
        if "pooling_mode" in pool:
            named = pool["pooling_mode"]
            modes = (named,) if isinstance(named, str) else tuple(named)
        else:
            modes = tuple(_LEGACY_POOLING[k] for k in _LEGACY_POOLING if pool.get(k))
        unsupported = [m for m in modes if m not in _POOLING_MODES]
        if unsupported or not modes:
            raise ConfigError(f"embed_runtime onnx does not implement pooling {unsupported or 'none'} ({pooling_dir}); use embed_runtime torch")
    if hidden <= 0:
        raise ConfigError(f"{path}: config.json gives no hidden_size")
    st = _read(path / "config_sentence_transformers.json")
    prompt = (st.get("prompts") or {}).get(st.get("default_prompt_name") or "", "")
    if prompt and not include_prompt:
        raise ConfigError(f"{path}: pooling leaves its default prompt out, which embed_runtime onnx does not implement; use embed_runtime torch")
    return modes, hidden * len(modes), bool(st_config.get("do_lower_case", False)), prompt


def _pool(tokens: np.ndarray, mask: np.ndarray, modes: tuple[str, ...]) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    counts = np.clip(m.sum(axis=1), 1e-9, None)
    parts = []
    for mode in modes:
        if mode == "cls":
            parts.append(tokens[:, 0])
        elif mode == "max":
            parts.append(np.where(m > 0, tokens, -1e9).max(axis=1))
        elif mode == "mean":
            parts.append((tokens * m).sum(axis=1) / counts)
        else:  # mean_sqrt_len_tokens
            parts.append((tokens * m).sum(axis=1) / np.sqrt(counts))
    out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)


_LIVE: "weakref.WeakSet[OnnxEmbedder]" = weakref.WeakSet()
_INHERITED: list = []  # sessions a forked child got from its parent: kept, never destroyed


def _after_fork_in_child() -> None:
    """A forked process (the parser workers) must never destroy a session it inherited.

    A session's destructor joins its intra-op thread pool, whose threads were not copied by
    fork(); in the child it waits on their condition variable for ever (seen: every parser worker
    hung in pthread_cond_destroy when the garbage collector freed a closed knowledge base's
    embedder). Sessions are parked here instead, and an embedder used in the child makes new ones."""
    for embedder in list(_LIVE):
        _INHERITED.extend(embedder._sessions.values())
        embedder._sessions = {}
        embedder._lock = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class OnnxEmbedder:
    """A sentence-transformers folder on ONNX Runtime (see the module docstring); exported and loaded lazily, once."""

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 8,
        embedder_id: str | None = None,
        runtime: str = "onnx",
        cache_dir: Path | None = None,
        threads: int | None = None,
    ):
        if runtime not in RUNTIMES:
            raise ConfigError(f"the onnx embedder runs {', '.join(RUNTIMES)}, not {runtime!r}")
        self.path, base_id = resolve_embedder_path(model_path)
        if not (self.path / "tokenizer.json").exists():
            raise ConfigError(f"embed_runtime {runtime} needs a fast tokenizer (tokenizer.json) in {self.path}; use embed_runtime torch")
        self.runtime = runtime
        # fp32 vectors are torch's to float rounding: same id, nothing re-embedded when switching
        self.embedder_id = (embedder_id or base_id) + ("+onnx-int8" if runtime == "onnx-int8" else "")
        self.batch_size = batch_size
        self.threads = threads or cpu_count()
        self.cache_dir = Path(cache_dir if cache_dir is not None else Path("~/.cache/ragkit").expanduser())
        self.folder = export_dir(self.path, base_id, self.cache_dir)
        self._modes, self._dimension, self._lower, self._prompt = _model_layout(self.path)
        self._max_seq = max_seq_length(self.path)
        self._sessions: dict[int, object] = {}
        self._inputs: set[str] = set()
        self._tokenizer = None
        self._counter = None
        self._lock = threading.Lock()
        self.exported = False  # True when this instance exported (or quantised) a file
        self.load_seconds: float | None = None
        _LIVE.add(self)

    # -- the model file ------------------------------------------------------------------------

    @property
    def model_file(self) -> Path:
        return self.folder / ("model-int8.onnx" if self.runtime == "onnx-int8" else "model.onnx")

    def ensure_exported(self) -> Path:
        """The ONNX file for this runtime, exported (and quantised) into the cache the first time."""
        fp32 = self.folder / "model.onnx"
        if not fp32.exists():
            t0 = time.perf_counter()
            try:
                export_onnx(self.path, fp32)
            except ImportError as e:
                raise ModelError(f"exporting {self.path} to ONNX needs torch and transformers ({e}); run once where they are installed") from e
            except Exception as e:
                raise ModelError(f"could not export {self.path} to ONNX: {e}") from e
            self._write_record(fp32)
            self.exported = True
            log.info("exported %s to %s in %.1f s", self.path, fp32, time.perf_counter() - t0)
        target = self.model_file
        if not target.exists():
            try:
                quantize_onnx(fp32, target)
            except Exception as e:
                raise ModelError(f"could not quantise {fp32} to int8: {e}") from e
            self.exported = True
            log.info("quantised %s to %s", fp32, target)
        return target

    def _write_record(self, fp32: Path) -> None:
        record = {"source": str(self.path.resolve()), "export_version": EXPORT_VERSION, "opset": OPSET, "exported_at": time.time()}
        _write_atomically(self.folder / "ragkit.json", lambda tmp: tmp.write_text(json.dumps(record, indent=1)))

    def session(self, threads: int):
        """An ONNX Runtime session on `threads` intra-op threads (one per thread count, made once)."""
        with self._lock:
            if threads not in self._sessions:
                t0 = time.perf_counter()
                path = self.ensure_exported()
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                # idle pool threads sleep instead of spinning: on a shared machine spinning takes cores from others
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                try:
                    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
                except Exception as e:
                    raise ModelError(f"could not load {path} with ONNX Runtime: {e}; delete {self.folder} to export it again") from e
                self._inputs = {i.name for i in sess.get_inputs()}
                self._sessions[threads] = sess
                self.load_seconds = time.perf_counter() - t0
                log.info("loaded %s (%s, %d threads) in %.2f s", path, self.runtime, threads, self.load_seconds)
            return self._sessions[threads]

    # -- tokens --------------------------------------------------------------------------------

    @property
    def tokenizer(self):
        """tokenizer.json set up as sentence-transformers calls it: truncated at max_seq_length, padded to the longest."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            tok.enable_truncation(max_length=self._max_seq)
            pad = tok.padding or {}
            pad_token = pad.get("pad_token", "[PAD]")
            pad_id = pad.get("pad_id", tok.token_to_id(pad_token) or 0)
            tok.enable_padding(pad_id=pad_id, pad_token=pad_token, pad_type_id=pad.get("pad_type_id", 0))  # no length: the batch's longest
            self._tokenizer = tok
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        if self._counter is None:
            from tokenizers import Tokenizer

            counter = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            counter.no_truncation()
            counter.no_padding()
            self._counter = counter
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """Content tokens that reach the model: its window less [CLS] and [SEP]."""
        return self._max_seq - 2

    # -- vectors -------------------------------------------------------------------------------

    def _run(self, texts: list[str], threads: int) -> np.ndarray:
        sess = self.session(threads)
        if self._prompt:  # the folder's default prompt, as sentence-transformers' encode() adds it
            texts = [self._prompt + t for t in texts]
        encoded = self.tokenizer.encode_batch([t.lower() for t in texts] if self._lower else texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.array([e.type_ids for e in encoded], dtype=np.int64)
        (tokens,) = sess.run(None, feed)
        return _pool(tokens, mask, self._modes)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Batches of `batch_size`, texts of like length together (as sentence-transformers sorts them), on every CPU."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        threads = 1 if len(texts) == 1 else self.threads
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            picked = order[start : start + self.batch_size]
            out[picked] = self._run([texts[i] for i in picked], threads)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """One text on one intra-op thread (see the module docstring)."""
        return self._run([text], 1)[0]


def from_settings(settings, model_path: Path | None = None, embedder_id: str | None = None, runtime: str = "onnx") -> OnnxEmbedder:
    """The `onnx` and `onnx-int8` entries of the embedder registry (`model_path` None: the configured model)."""
    return OnnxEmbedder(
        model_path if model_path is not None else settings.embed_model,
        settings.embed_batch_size,
        embedder_id=embedder_id,
        runtime=runtime,
        cache_dir=settings.cache_dir,
    )
