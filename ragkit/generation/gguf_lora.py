"""A peft LoRA adapter as a GGUF LoRA file, so llama.cpp applies it over the quantized base model.

Written by hand with the `gguf` package because llama.cpp's own converter
(`convert_lora_to_gguf.py`) is not shipped in any wheel. It follows that converter's rules for
the llama architecture (SmolLM2): tensor names `blk.N.<gguf name>.weight.lora_a|lora_b`, A and B
in float32 as peft stores them, and the rows of q_proj's and k_proj's B permuted the way the
base conversion permuted those weights for llama.cpp's rotary layout. The result is cached
beside the adapter and rebuilt when the adapter's weights change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from ragkit.errors import ModelError

# peft module name -> llama.cpp tensor name (llama architecture)
_TARGETS = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"^base_model\.model\.model\.layers\.(\d+)\.(.+)\.lora_([AB])\.weight$")


def _permute(rows: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's q/k row order: each head's two rotary halves interleaved (as the base conversion did)."""
    return rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def _base_heads(base_gguf: Path) -> tuple[str, int, int]:
    from gguf import GGUFReader

    reader = GGUFReader(str(base_gguf))

    def field(name: str):
        f = reader.fields.get(name)
        if f is None:
            raise ModelError(f"{base_gguf} has no {name}: cannot convert an adapter for it")
        return f.parts[f.data[0]]

    arch = bytes(field("general.architecture")).decode()
    heads = int(field(f"{arch}.attention.head_count")[0])
    kv_field = reader.fields.get(f"{arch}.attention.head_count_kv")
    kv_heads = int(kv_field.parts[kv_field.data[0]][0]) if kv_field else heads
    return arch, heads, kv_heads


def adapter_stamp(adapter_dir: Path) -> str:
    """Changes whenever the adapter's weights or config change."""
    parts = []
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        st = (adapter_dir / name).stat()
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def gguf_lora_for(adapter_dir: Path, base_gguf: Path) -> Path:
    """The adapter's GGUF LoRA file (converted once, beside the adapter; rebuilt when the adapter changed)."""
    adapter_dir = Path(adapter_dir)
    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.exists() or not (adapter_dir / "adapter_config.json").exists():
        raise ModelError(f"{adapter_dir} is not a peft adapter (adapter_model.safetensors and adapter_config.json)")
    out = adapter_dir / f"lora-{adapter_stamp(adapter_dir)}.gguf"
    if out.exists():
        return out
    for old in adapter_dir.glob("lora-*.gguf"):  # a previous version of this adapter
        old.unlink(missing_ok=True)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    try:
        convert(adapter_dir, base_gguf, tmp)
        tmp.rename(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def convert(adapter_dir: Path, base_gguf: Path, out: Path) -> int:
    """Write the GGUF LoRA file; returns the number of adapted weight matrices."""
    from gguf import GGUFWriter
    from safetensors.numpy import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("use_dora") or config.get("use_rslora"):
        raise ModelError(f"{adapter_dir}: DoRA and rsLoRA adapters cannot run on llama.cpp")
    arch, heads, kv_heads = _base_heads(base_gguf)
    if arch != "llama":
        raise ModelError(f"adapter conversion knows the llama architecture, not {arch!r} ({base_gguf})")
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    pairs: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        m = _KEY.match(key)
        if not m or m.group(2) not in _TARGETS:
            raise ModelError(f"{adapter_dir}: cannot map adapter tensor {key!r} to llama.cpp")
        pairs.setdefault((int(m.group(1)), m.group(2)), {})[m.group(3)] = value.astype(np.float32)
    writer = GGUFWriter(str(out), arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(config.get("lora_alpha", config.get("r", 8))))
    for (layer, module), ab in sorted(pairs.items()):
        if set(ab) != {"A", "B"}:
            raise ModelError(f"{adapter_dir}: layer {layer} {module} lacks lora_A or lora_B")
        a, b = ab["A"], ab["B"]
        if module == "self_attn.q_proj":
            b = _permute(b, heads)
        elif module == "self_attn.k_proj":
            b = _permute(b, kv_heads)
        name = f"blk.{layer}.{_TARGETS[module]}.weight"
        writer.add_tensor(name + ".lora_a", np.ascontiguousarray(a))
        writer.add_tensor(name + ".lora_b", np.ascontiguousarray(b))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(pairs)
