"""LoRA fine-tuning of the local base model with peft: bounded steps, fixed-batch loss, resumable."""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragkit.errors import UsageError
from ragkit.finetune.data import Example, build_examples, data_hash, exclude_eval
from ragkit.storage.manifest import now_iso
from ragkit.types import Model, ProgressFn, no_progress

if TYPE_CHECKING:
    from ragkit.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

CHECKPOINT = ".checkpoint"


class FinetuneResult(Model):
    adapter: str
    examples: int
    excluded: int
    steps: int
    seconds: float
    loss_first: float | None
    loss_last: float | None
    path: str
    resumed_from: int = 0


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    lr: float = 1e-3
    batch_size: int = 4
    max_length: int = 256
    checkpoint_every: int = 5
    seed: int = 0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


def encode(tok, ex: Example, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels; prompt tokens are masked (-100) so only the target is learned."""
    eos = tok.eos_token_id
    if ex.prompt:
        messages = json.loads(ex.prompt)
        prompt_ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
        target_ids = tok.encode(ex.target, add_special_tokens=False) + [eos]
        ids = (prompt_ids + target_ids)[:max_length]
        labels = ([-100] * len(prompt_ids) + target_ids)[:max_length]
    else:
        ids = (tok.encode(ex.target, add_special_tokens=False) + [eos])[:max_length]
        labels = list(ids)
    return ids, labels


def collate(tok, batch: list[tuple[list[int], list[int]]]):
    import torch

    width = max(len(ids) for ids, _ in batch)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(batch):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def planned_steps(n_examples: int, batch_size: int, steps: int | None, epochs: float | None) -> int:
    """Training steps: `steps`, or `epochs` passes over the examples, else a small default."""
    if steps is not None and epochs is not None:
        raise UsageError("give --steps or --epochs, not both", code="invalid_argument")
    per_epoch = math.ceil(n_examples / batch_size)
    if steps is not None:
        return steps
    if epochs is not None:
        return max(1, round(epochs * per_epoch))
    return min(30, per_epoch * 3)  # a small default; --steps/--epochs for real runs


@dataclass
class TrainedAdapter:
    model: Any
    start_step: int
    curve: list[float]
    loss_first: float
    loss_last: float


def train_lora(model, tok, encoded: list, total: int, ckpt: Path, digest: str, lora: LoraSettings, progress: ProgressFn) -> TrainedAdapter:
    """LoRA steps over the encoded examples, resuming from `ckpt` when it holds this data's run;
    checkpoints every `lora.checkpoint_every` steps; the loss on a fixed batch before and after."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model

    torch.manual_seed(lora.seed)
    order_rng = random.Random(lora.seed)

    def batches():
        while True:
            idx = list(range(len(encoded)))
            order_rng.shuffle(idx)
            for i in range(0, len(idx), lora.batch_size):
                yield collate(tok, [encoded[j] for j in idx[i : i + lora.batch_size]])

    fixed = collate(tok, encoded[: lora.batch_size])
    start_step, curve = 0, []
    state = _read_checkpoint(ckpt, digest, total)
    if state is not None:
        model = PeftModel.from_pretrained(model, str(ckpt), is_trainable=True)
        start_step, curve = state["step"], state["curve"]
        loss_first = state["loss_first"]
    else:
        shutil.rmtree(ckpt, ignore_errors=True)
        config = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=list(lora.target_modules), task_type="CAUSAL_LM")
        model = get_peft_model(model, config)
        loss_first = _fixed_loss(model, fixed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lora.lr)
    if state is not None and (ckpt / "optimizer.pt").exists():
        optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
    stream = batches()
    for _ in range(start_step):  # replay the data order so a resumed run sees the same batches
        next(stream)
    model.train()
    for step in range(start_step, total):
        loss = model(**next(stream)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        curve.append(round(float(loss.detach()), 5))
        progress(f"training (loss {curve[-1]:.3f})", step + 1, total)
        if (step + 1) % lora.checkpoint_every == 0 and step + 1 < total:
            _write_checkpoint(model, optimizer, ckpt, digest, total, step + 1, curve, loss_first)
    return TrainedAdapter(model, start_step, curve, loss_first, _fixed_loss(model, fixed))


def save_adapter(folder: Path, model, record: dict) -> None:
    """Write the adapter beside, then swap it in; its ragkit.json goes last, so only complete adapters are listed."""
    tmp = folder.with_name(folder.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    (folder / "ragkit.json").write_text(json.dumps(record, indent=1))


def finetune(
    kb: "KnowledgeBase",
    collection: str,
    *,
    name: str | None = None,
    data: list[str] | None = None,
    train_qa: str | None = None,
    exclude_eval_file: str | None = None,
    steps: int | None = None,
    epochs: float | None = None,
    lora: LoraSettings = LoraSettings(),
    progress: ProgressFn | None = None,
) -> FinetuneResult:
    """Train (or resume training) a LoRA adapter on a collection; returns the `finetune` JSON."""
    progress = progress or no_progress
    started = time.perf_counter()
    kb.store(collection)  # NotFound for an unknown collection
    data = data or (["raw", "qa"] if train_qa else ["raw"])
    name = name or "lora"
    folder = kb.adapters.folder(collection, name)
    examples = build_examples(kb, collection, data, train_qa)
    examples, excluded = exclude_eval(examples, exclude_eval_file)
    if not examples:
        raise UsageError(f"no training examples for collection {collection!r} (is it empty?)", code="no_examples")
    digest = data_hash(examples)
    total = planned_steps(len(examples), lora.batch_size, steps, epochs)  # refuses --steps with --epochs

    from ragkit.generation.local import LocalGenerator

    base_gen = LocalGenerator(kb.settings.llm_path, kb.settings.cache_dir)
    model, tok = base_gen._load()
    encoded = [encode(tok, ex, lora.max_length) for ex in examples]
    trained = train_lora(model, tok, encoded, total, folder / CHECKPOINT, digest, lora, progress)
    seconds = round(time.perf_counter() - started, 2)
    record = {
        "name": name,
        "collection": collection,
        "base_model": base_gen.model_id,
        "revision": kb.manifest.revision(collection),
        "created_at": now_iso(),
        "steps": total,
        "data": data,
        "data_hash": digest,
        "examples": len(examples),
        "excluded": excluded,
        "lr": lora.lr,
        "rank": lora.rank,
        "batch_size": lora.batch_size,
        "loss_first": trained.loss_first,
        "loss_last": trained.loss_last,
        "loss_curve": trained.curve,
        "seconds": seconds,
    }
    save_adapter(folder, trained.model, record)
    if kb._generator is not None and hasattr(kb._generator, "unload_adapters"):
        kb._generator.unload_adapters()  # a retrained adapter of the same name must reload
    return FinetuneResult(
        adapter=name,
        examples=len(examples),
        excluded=excluded,
        steps=total,
        seconds=seconds,
        loss_first=trained.loss_first,
        loss_last=trained.loss_last,
        path=str(folder),
        resumed_from=trained.start_step,
    )


def _fixed_loss(model, batch) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        value = float(model(**batch).loss)
    model.train()
    return round(value, 5)


def _write_checkpoint(model, optimizer, ckpt: Path, digest: str, total: int, step: int, curve: list[float], loss_first: float) -> None:
    import torch

    tmp = ckpt.with_name(ckpt.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({"data_hash": digest, "total": total, "step": step, "curve": curve, "loss_first": loss_first}))
    shutil.rmtree(ckpt, ignore_errors=True)
    tmp.rename(ckpt)


def _read_checkpoint(ckpt: Path, digest: str, total: int) -> dict | None:
    """The state of an interrupted run on the same data and step budget, if there is one."""
    try:
        state = json.loads((ckpt / "state.json").read_text())
    except (OSError, ValueError):
        return None
    if state.get("data_hash") != digest or state.get("total") != total:
        return None
    return state
