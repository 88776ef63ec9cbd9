"""Ranking metrics as trec_eval computes them: nDCG@k, recall@k, MRR@k over a run and its qrels.

A run maps each query id to its ranked document ids (best first); qrels map each query id to
{doc_id: relevance}. As in trec_eval, the gain is the relevance grade itself (not 2^rel - 1),
the discount is log2(rank + 1), the ideal ranking is built from every judged relevant document,
and a document counts as relevant when its grade is above 0. The mean runs over every query in
the qrels that has a relevant document; a query the run has no answer for scores 0 (trec_eval -c).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Sequence[str]]


def ndcg_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain of the top k (0 when nothing is relevant)."""
    dcg = sum(judged.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if judged.get(doc, 0) > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents found in the top k."""
    relevant = {doc for doc, g in judged.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document in the top k, else 0."""
    for i, doc in enumerate(ranked[:k]):
        if judged.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def judged_queries(qrels: Qrels) -> list[str]:
    """The query ids a mean is taken over: those with at least one relevant document."""
    return sorted(q for q, judged in qrels.items() if any(g > 0 for g in judged.values()))


def evaluate(run: Run, qrels: Qrels) -> dict[str, float]:
    """Mean nDCG@10, recall@100 and MRR@10 of a run, keyed as `bench retrieval` reports them."""
    queries = judged_queries(qrels)
    if not queries:
        return {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    totals = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    for q in queries:
        ranked, judged = run.get(q, ()), qrels[q]
        totals["ndcg@10"] += ndcg_at(ranked, judged, 10)
        totals["recall@100"] += recall_at(ranked, judged, 100)
        totals["mrr@10"] += mrr_at(ranked, judged, 10)
    return {name: total / len(queries) for name, total in totals.items()}
