"""Answer metrics: pure functions of (response, question), aggregated by the eval runner."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from ragkit.evaluation.evalset import EvalQuestion
from ragkit.textnorm import contains_phrase, normalize, tokens


def exact_match(response: str, q: EvalQuestion) -> float:
    got = normalize(response)
    return float(any(got == normalize(a) for a in q.accepted))


def token_f1(response: str, q: EvalQuestion) -> float:
    """Token F1 against the answer and each alias; the best one counts."""
    got = tokens(response)
    best = 0.0
    for accepted in q.accepted:
        want = tokens(accepted)
        if not got or not want:
            best = max(best, float(got == want))
            continue
        common = sum((Counter(got) & Counter(want)).values())
        if common:
            p, r = common / len(got), common / len(want)
            best = max(best, 2 * p * r / (p + r))
    return best


def accuracy(response: str, q: EvalQuestion) -> float:
    """1 when the answer or an alias appears on token boundaries and no `wrong` value does."""
    if any(contains_phrase(response, w) for w in q.wrong):
        return 0.0
    return float(any(contains_phrase(response, a) for a in q.accepted))


def retrieval_rank(ranked_sources: Sequence[str], gold: Sequence[str]) -> int | None:
    """1-based rank of the first chunk from a gold source, or None."""
    wanted = set(gold)
    for i, s in enumerate(ranked_sources, 1):
        if s in wanted:
            return i
    return None
