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
from ragkit.finetune.data import Example, build_examples, data_hash
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
    built: dict = {}  # examples per builder; raft_gold_share when raft was built


ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
ALL_LINEAR = ATTENTION + ("gate_proj", "up_proj", "down_proj")

# What `ragkit finetune` trains with no --data, --rank, --targets, --steps or --epochs: the recipe
# that recalled most on held-out documents (docs/results/finetune-heldout/README.md), with its
# steps capped so that a corpus of ~36,000 words trains within about 20 minutes on 2 CPU cores.
DEFAULT_DATA = ("facts",)
DEFAULT_RANK = 32
DEFAULT_TARGETS = ALL_LINEAR
DEFAULT_EPOCHS = 5.0
DEFAULT_MAX_STEPS = 560  # about 2.0 s a step at r=32 on all linear layers, 2 idle cores: 19 min


def target_modules(spec: str | None) -> tuple[str, ...]:
    """`--targets`: "attention" (q,k,v,o), "all-linear" (those plus the MLP's gate, up, down), or a comma list."""
    if not spec or spec == "attention":
        return ATTENTION
    if spec == "all-linear":
        return ALL_LINEAR
    names = tuple(n.strip() for n in spec.split(",") if n.strip())
    unknown = [n for n in names if n not in ALL_LINEAR]
    if not names or unknown:
        raise UsageError(f"--targets: unknown module(s) {', '.join(unknown) or spec!r}; use attention, all-linear or names from {', '.join(ALL_LINEAR)}", code="invalid_argument")
    return names


@dataclass(frozen=True)
class LoraSettings:
    rank: int = DEFAULT_RANK
    alpha: int | None = None  # None: twice the rank
    dropout: float = 0.05
    lr: float = 1e-3
    batch_size: int = 4
    max_length: int = 256
    context_length: int = 1024  # examples whose prompt holds sources (raft, the distill teacher)
    checkpoint_every: int = 5
    seed: int = 0
    target_modules: tuple[str, ...] = DEFAULT_TARGETS

    @property
    def lora_alpha(self) -> int:
        return self.alpha if self.alpha is not None else 2 * self.rank


@dataclass(frozen=True)
class Encoded:
    """Token ids and labels of one example; a distill example also has its teacher's."""

    ids: list[int]
    labels: list[int]
    teacher_ids: list[int] | None = None
    teacher_labels: list[int] | None = None


def _chat_ids(tok, prompt: str, target: str, max_length: int) -> tuple[list[int], list[int]]:
    """Prompt and target ids; a prompt too long loses its middle (sources), never the target or the question."""
    prompt_ids = tok.apply_chat_template(json.loads(prompt), add_generation_prompt=True, return_dict=True)["input_ids"]
    target_ids = tok.encode(target, add_special_tokens=False) + [tok.eos_token_id]
    room = max_length - len(target_ids)
    if len(prompt_ids) > room:
        head = max(0, room // 4)
        prompt_ids = prompt_ids[:head] + prompt_ids[len(prompt_ids) - (room - head) :] if room > 0 else []
    ids = (prompt_ids + target_ids)[:max_length]
    return ids, ([-100] * len(prompt_ids) + target_ids)[:max_length]


def encode(tok, ex: Example, max_length: int, context_length: int | None = None) -> Encoded:
    """Token ids and labels; prompt tokens are masked (-100) so only the target is learned."""
    long = context_length or max_length
    if ex.prompt:
        ids, labels = _chat_ids(tok, ex.prompt, ex.target, long if "Sources:" in ex.prompt else max_length)
    else:
        ids = (tok.encode(ex.target, add_special_tokens=False) + [tok.eos_token_id])[:max_length]
        labels = list(ids)
    if ex.teacher_prompt:
        t_ids, t_labels = _chat_ids(tok, ex.teacher_prompt, ex.target, long)
        return Encoded(ids, labels, t_ids, t_labels)
    return Encoded(ids, labels)


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
    """Training steps: `steps`, or `epochs` passes over the examples, else DEFAULT_EPOCHS passes
    capped at DEFAULT_MAX_STEPS."""
    if steps is not None and epochs is not None:
        raise UsageError("give --steps or --epochs, not both", code="invalid_argument")
    per_epoch = math.ceil(n_examples / batch_size)
    if steps is not None:
        return steps
    if epochs is not None:
        return max(1, round(epochs * per_epoch))
    return max(1, min(DEFAULT_MAX_STEPS, round(DEFAULT_EPOCHS * per_epoch)))


@dataclass
class TrainedAdapter:
    model: Any
    start_step: int
    curve: list[float]
    loss_first: float
    loss_last: float


def distill_loss(model, tok, batch: list[Encoded]):
    """KL(teacher || student) per answer token, averaged (Kujanpää et al. 2024, prompt distillation):
    the teacher is the base model (adapter disabled, no gradient) reading the source, the student
    the adapter reading the closed-book prompt; both score the teacher's own greedy answer."""
    import torch
    import torch.nn.functional as F

    student = collate(tok, [(e.ids, e.labels) for e in batch])
    teacher = collate(tok, [(e.teacher_ids, e.teacher_labels) for e in batch])
    with torch.no_grad(), model.disable_adapter():
        t_logits = model(input_ids=teacher["input_ids"], attention_mask=teacher["attention_mask"]).logits[:, :-1]
    s_logits = model(input_ids=student["input_ids"], attention_mask=student["attention_mask"]).logits[:, :-1]
    t_sel = t_logits[teacher["labels"][:, 1:] != -100]
    s_sel = s_logits[student["labels"][:, 1:] != -100]
    n = min(len(t_sel), len(s_sel))  # equal unless a target was cut by max_length
    t_logp = F.log_softmax(t_sel[:n].float(), dim=-1)
    s_logp = F.log_softmax(s_sel[:n].float(), dim=-1)
    return F.kl_div(s_logp, t_logp, log_target=True, reduction="batchmean")


def batch_loss(model, tok, batch: list[Encoded]):
    """Cross-entropy on the targets of plain examples, KL to the teacher on distill ones, weighted by count."""
    plain = [e for e in batch if e.teacher_ids is None]
    distilled = [e for e in batch if e.teacher_ids is not None]
    loss = 0.0
    if plain:
        loss = model(**collate(tok, [(e.ids, e.labels) for e in plain])).loss * len(plain)
    if distilled:
        loss = loss + distill_loss(model, tok, distilled) * len(distilled)
    return loss / len(batch)


def train_lora(model, tok, encoded: list[Encoded], total: int, ckpt: Path, digest: str, lora: LoraSettings, progress: ProgressFn) -> TrainedAdapter:
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
                yield [encoded[j] for j in idx[i : i + lora.batch_size]]

    fixed = encoded[: lora.batch_size]
    start_step, curve = 0, []
    state = _read_checkpoint(ckpt, digest, total)
    if state is not None:
        model = PeftModel.from_pretrained(model, str(ckpt), is_trainable=True)
        start_step, curve = state["step"], state["curve"]
        loss_first = state["loss_first"]
    else:
        shutil.rmtree(ckpt, ignore_errors=True)
        config = LoraConfig(r=lora.rank, lora_alpha=lora.lora_alpha, lora_dropout=lora.dropout, target_modules=list(lora.target_modules), task_type="CAUSAL_LM")
        model = get_peft_model(model, config)
        loss_first = _fixed_loss(model, tok, fixed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lora.lr)
    if state is not None and (ckpt / "optimizer.pt").exists():
        optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
    stream = batches()
    for _ in range(start_step):  # replay the data order so a resumed run sees the same batches
        next(stream)
    model.train()
    for step in range(start_step, total):
        loss = batch_loss(model, tok, next(stream))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        curve.append(round(float(loss.detach()), 5))
        progress(f"training (loss {curve[-1]:.3f})", step + 1, total)
        if (step + 1) % lora.checkpoint_every == 0 and step + 1 < total:
            _write_checkpoint(model, optimizer, ckpt, digest, total, step + 1, curve, loss_first)
    return TrainedAdapter(model, start_step, curve, loss_first, _fixed_loss(model, tok, fixed))


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
    raft_gold_share: float = 0.8,
    progress: ProgressFn | None = None,
) -> FinetuneResult:
    """Train (or resume training) a LoRA adapter on a collection; returns the `finetune` JSON."""
    progress = progress or no_progress
    started = time.perf_counter()
    kb.store(collection)  # NotFound for an unknown collection
    data = data or [*DEFAULT_DATA, *(["qa"] if train_qa else [])]
    name = name or "lora"
    folder = kb.adapters.folder(collection, name)
    built = build_examples(kb, collection, data, train_qa, exclude_eval_file=exclude_eval_file, raft_gold_share=raft_gold_share, progress=progress)
    examples, excluded = built.examples, built.excluded
    if not examples:
        raise UsageError(f"no training examples for collection {collection!r} (is it empty?)", code="no_examples")
    digest = data_hash(examples)
    total = planned_steps(len(examples), lora.batch_size, steps, epochs)  # refuses --steps with --epochs

    from ragkit.generation.local import LocalGenerator

    base_gen = LocalGenerator(kb.settings.llm_path, kb.settings.cache_dir)
    model, tok = base_gen._load()
    encoded = [encode(tok, ex, lora.max_length, lora.context_length) for ex in examples]
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
        "built": built.stats,
        "lr": lora.lr,
        "rank": lora.rank,
        "alpha": lora.lora_alpha,
        "target_modules": list(lora.target_modules),
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
        built=built.stats,
    )


def _fixed_loss(model, tok, batch: list[Encoded]) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        value = float(batch_loss(model, tok, batch))
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
