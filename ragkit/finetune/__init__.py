"""Fine-tuning LoRA adapters on a collection (`ragkit finetune`)."""

from ragkit.finetune.train import FinetuneResult, LoraSettings, finetune

__all__ = ["FinetuneResult", "LoraSettings", "finetune"]
