"""Abstention, decided once, in one place: from the model's words and from the evidence.

The bundled 135M model almost never says it does not know, so evidence counts too: a best
retrieval match below `min_dense` (cosine) means the collection likely lacks the answer, and an
answer whose content words mostly do not occur in what the model was shown is not grounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ragkit.textnorm import grounded_fraction

_IDK = re.compile(
    r"\b(i\s+(do\s+not|don'?t|cannot|can'?t)\s+(know|find|answer|say|tell)|not\s+(mentioned|stated|provided|specified|given|available|found|listed|in\s+the\s+(sources?|context|documents?|text))|"
    r"no\s+(information|mention|answer|data)|(cannot|can'?t)\s+be\s+(determined|answered|found)|unknown|unanswerable|n/a)\b",
    re.I,
)


@dataclass(frozen=True)
class AbstainPolicy:
    min_dense: float = 0.0  # 0 disables the retrieval-score check
    min_grounded: float = 0.0  # 0 disables the groundedness check


@dataclass(frozen=True)
class Decision:
    abstained: bool
    reason: str | None  # "said_so" | "empty" | "weak_evidence" | "ungrounded" | None
    grounded: float | None


def says_unknown(text: str) -> bool:
    return bool(_IDK.search(text or ""))


def decide(answer: str, *, context: str | None, top_dense: float | None, policy: AbstainPolicy) -> Decision:
    """Whether an answer counts as an abstention, and why."""
    grounded = grounded_fraction(answer, context) if context is not None else None
    if not answer.strip():
        return Decision(True, "empty", grounded)
    if says_unknown(answer):
        return Decision(True, "said_so", grounded)
    if top_dense is not None and policy.min_dense > 0 and top_dense < policy.min_dense:
        return Decision(True, "weak_evidence", grounded)
    if grounded is not None and policy.min_grounded > 0 and grounded < policy.min_grounded:
        return Decision(True, "ungrounded", grounded)
    return Decision(False, None, grounded)
