"""How many training steps a finetune plans (no model: the arithmetic and the refusal)."""

from __future__ import annotations

import pytest

from ragkit.errors import UsageError
from ragkit.finetune.train import ALL_LINEAR, DEFAULT_EPOCHS, DEFAULT_MAX_STEPS, LoraSettings, planned_steps


def test_steps_epochs_and_the_default():
    assert planned_steps(130, 4, 12, None) == 12
    assert planned_steps(130, 4, None, 2) == 66  # two passes over 33 batches
    assert planned_steps(130, 4, None, None) == round(DEFAULT_EPOCHS * 33)  # the default: DEFAULT_EPOCHS passes
    assert planned_steps(5000, 4, None, None) == DEFAULT_MAX_STEPS  # capped, so a large corpus still trains in minutes
    assert planned_steps(1, 4, None, None) >= 1
    with pytest.raises(UsageError, match="--steps or --epochs, not both"):
        planned_steps(130, 4, 10, 1.0)


def test_the_default_recipe_is_the_held_out_winner():
    lora = LoraSettings()
    assert (lora.rank, lora.lora_alpha, lora.target_modules) == (32, 64, ALL_LINEAR)
