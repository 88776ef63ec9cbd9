"""`raft`: retrieval-augmented fine-tuning data for `lora-rag` (Zhang et al. 2024, RAFT, arXiv 2403.10131).

For each fact (one phrasing per fact of the `facts` builder) the prompt is ragkit's own rag
prompt holding what ragkit's retriever returns for the question (the top `rag_k` chunks). In a
share P of the examples (default 0.8) the gold chunk — the one the fact came from — is among
them (put in place of the last chunk when retrieval missed it); in the rest it is removed and
only distractors are shown. The target is the short answer; with the gold shown it is followed
by the gold's citation "[n]". Without the gold the answer is kept, with no citation, as in the
paper: RAFT trains (1 - P) of its data without the oracle document so that the model memorises
the domain's facts instead of relying on the context alone. (ragkit's prompt asks for "I don't
know" when the sources lack the answer; RAFT data deliberately overrides that for facts of the
collection, which is what the adapter was trained on.) The share actually built is recorded.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ragkit.finetune.data import Example, _chat_prompt
from ragkit.finetune.facts import one_per_fact

if TYPE_CHECKING:
    from ragkit.finetune.facts import Fact
    from ragkit.knowledge_base import KnowledgeBase


def gold_flags(n: int, share: float, seed: int = 0) -> list[bool]:
    """Exactly round(share * n) True values, in a seeded order."""
    flags = [i < round(share * n) for i in range(n)]
    random.Random(seed).shuffle(flags)
    return flags


def raft_examples(kb: "KnowledgeBase", collection: str, facts: list["Fact"], gold_share: float = 0.8, seed: int = 0) -> tuple[list[Example], float]:
    """RAFT examples and the share of them whose prompt holds the gold chunk."""
    from ragkit.errors import UsageError
    from ragkit.methods.base import Runtime
    from ragkit.methods.prompts import SourceText, build_messages

    if not 0.0 <= gold_share <= 1.0:
        raise UsageError(f"raft gold share must be between 0 and 1, not {gold_share}", code="invalid_argument")
    chosen = one_per_fact(facts)
    if not chosen:
        return [], 0.0
    rt = Runtime(kb, collection)
    k = kb.settings.rag_k
    chunks = {c.chunk_id: c for c in kb.manifest.all_chunks(collection)}
    rng = random.Random(seed)
    out: list[Example] = []
    with_gold = 0
    for fact, gold in zip(chosen, gold_flags(len(chosen), gold_share, seed)):
        hits = rt.retriever.query(fact.question, k=k + 1).hits
        shown = [(h.chunk_id, h.source, h.text, h.metadata.get("heading")) for h in hits if h.chunk_id != fact.chunk_id][:k]
        if gold:
            g = chunks[fact.chunk_id]
            entry = (g.chunk_id, str(g.metadata.get("source", "")), g.text, g.metadata.get("heading"))
            at = next((i for i, h in enumerate(hits[:k]) if h.chunk_id == fact.chunk_id), None)
            if at is None:  # retrieval missed it: it takes a random place among the top k
                at = rng.randrange(min(k, len(shown) + 1))
            shown = shown[: k - 1]
            shown.insert(min(at, len(shown)), entry)
        sources = [SourceText(n=i + 1, source=src, text=text, chunk_id=cid, heading=head) for i, (cid, src, text, head) in enumerate(shown)]
        gold_n = next((s.n for s in sources if s.chunk_id == fact.chunk_id), None)
        target = f"{fact.answer} [{gold_n}]" if gold_n else fact.answer
        with_gold += gold_n is not None
        out.append(Example("raft", _chat_prompt(build_messages(fact.question, sources)), target, question=fact.question))
    return out, round(with_gold / len(out), 4)
