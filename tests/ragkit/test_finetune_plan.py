"""How many training steps a finetune plans (no model: the arithmetic and the refusal)."""

from __future__ import annotations

import pytest

from ragkit.errors import UsageError
from ragkit.finetune.train import planned_steps


def test_steps_epochs_and_the_default():
    assert planned_steps(130, 4, 12, None) == 12
    assert planned_steps(130, 4, None, 2) == 66  # two passes over 33 batches
    assert planned_steps(130, 4, None, None) == 30 and planned_steps(5, 4, None, None) == 6
    with pytest.raises(UsageError, match="--steps or --epochs, not both"):
        planned_steps(130, 4, 10, 1.0)
