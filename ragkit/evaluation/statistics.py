"""The statistics that say whether a gap between methods is real: means, percentiles, bootstrap CIs, McNemar."""

from __future__ import annotations

import math
import random
from typing import Sequence


def mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in [0, 100])."""
    vals = sorted(values)
    if not vals:
        return None
    pos = (len(vals) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def bootstrap_ci(values: Sequence[float], *, iterations: int = 2000, seed: int = 0, level: float = 0.95) -> list[float] | None:
    """Percentile bootstrap confidence interval of the mean."""
    vals = list(values)
    if not vals:
        return None
    rng = random.Random(seed)
    n = len(vals)
    means = sorted(sum(vals[rng.randrange(n)] for _ in range(n)) / n for _ in range(iterations))
    tail = (1 - level) / 2
    return [round(means[int(tail * iterations)], 4), round(means[min(iterations - 1, int((1 - tail) * iterations))], 4)]


def mcnemar_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Exact McNemar test on paired 0/1 outcomes: the two-sided p-value that the methods differ."""
    if len(a) != len(b) or not a:
        return None
    only_a = sum(1 for x, y in zip(a, b) if x >= 0.5 > y)
    only_b = sum(1 for x, y in zip(a, b) if y >= 0.5 > x)
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return round(min(1.0, 2 * tail), 6)
