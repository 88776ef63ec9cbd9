"""`ragkit eval`: run methods over an eval set, score them, compare them, write the reports.

Answers are cached per (method, settings, collection revision, adapter hash, question), so an
interrupted or repeated run resumes and only new work is done.
"""

from __future__ import annotations

import json
import logging
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragkit.errors import RagkitError, UsageError
from ragkit.evaluation.cache import AnswerCache
from ragkit.evaluation.evalset import EvalQuestion, load_evalset
from ragkit.evaluation.scoring import aggregate, by_kind, paired, score_row
from ragkit.storage.bm25 import SCORING as BM25_SCORING
from ragkit.storage.manifest import now_iso
from ragkit.types import Answer, EvalSummary, ProgressFn, no_progress

if TYPE_CHECKING:
    from ragkit.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)
PROMPT_VERSION = "p7"  # p2: sources labelled with their date; the current source preferred; p3: span answers; p4: definition and clause spans, proximity in the choice; p5: labelled rows and records, two-hop bridges, no span of another kind for a date or quantity; p6: named codes, typed cells, from-to changes; p7: no date for a question about a lasting attribute


def stratified_sample(questions: list[EvalQuestion], limit: int, seed: int = 0) -> list[EvalQuestion]:
    """`limit` questions spread over kinds in proportion (at least one of each kind while room), seeded."""
    if limit >= len(questions):
        return list(questions)
    rng = random.Random(seed)
    groups: dict[str, list[EvalQuestion]] = {}
    for q in questions:
        groups.setdefault(q.kind or "unlabelled", []).append(q)
    for g in groups.values():
        rng.shuffle(g)
    quota = {k: max(1, round(limit * len(g) / len(questions))) for k, g in groups.items()}
    while sum(quota.values()) > limit:
        biggest = max(quota, key=lambda k: quota[k])
        quota[biggest] -= 1
    while sum(quota.values()) < limit:
        room = [k for k in groups if quota[k] < len(groups[k])]
        quota[max(room, key=lambda k: len(groups[k]) - quota[k])] += 1
    chosen = {id(q) for k, g in groups.items() for q in g[: quota[k]]}
    return [q for q in questions if id(q) in chosen]


def settings_fingerprint(kb: "KnowledgeBase") -> dict[str, Any]:
    s = kb.settings
    gen = kb.generator
    return {
        "prompt": PROMPT_VERSION,
        "generator": s.generator,
        "model": gen.model_id,
        "max_tokens": s.max_tokens,
        "temperature": s.temperature,
        "rag_k": s.rag_k,
        "retrieve_k": s.retrieve_k,
        "rag_context_tokens": s.rag_context_tokens,
        "long_context_tokens": s.long_context_tokens,
        "abstain": [s.abstain_min_dense, s.abstain_min_grounded],
        "answer_policy": [s.answer_policy, s.evidence_min_score, s.evidence_min_agreement, s.span_sentences, s.span_min_logprob],
        "hybrid_alpha": s.hybrid_alpha,
        "fusion_depth": s.fusion_depth,
        "bm25": BM25_SCORING,
    }


@dataclass
class EvalPlan:
    """What one run answers: the questions, the prepared methods, and what the cache keys hold."""

    collection: str
    evalset: str
    questions: list[EvalQuestion]
    total_questions: int
    limit: int | None
    methods: dict[str, Any]  # name -> prepared method
    fingerprint: dict[str, Any]
    embedder: dict[str, Any]
    revision: int
    warnings: list[str]


def plan_eval(kb: "KnowledgeBase", collection: str, evalset: str | Path, methods: list[str] | None, adapter: str | None, limit: int | None) -> EvalPlan:
    """Load and sample the questions, check the methods and prepare each (an adapter method without
    an adapter stops here, saying how to train one), and fix the cache fingerprint."""
    from ragkit.methods import Runtime, build_method, check_method

    questions = load_evalset(evalset)
    total = len(questions)
    if limit is not None:
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        questions = stratified_sample(questions, limit)
    col = kb.collection(collection)
    kb.store(collection)  # NotFound for an unknown collection
    indexed = {d.source for d in col.documents()}
    warnings = sorted({s for q in questions for s in q.source if s not in indexed})
    if warnings:
        log.warning("eval set names sources not in %s: %s", collection, ", ".join(warnings[:10]))
    names = methods or col.available_methods()
    for m in names:
        check_method(m)
    rt = Runtime(kb, collection)
    prepared = {m: build_method(m, rt, adapter) for m in names}
    fingerprint = settings_fingerprint(kb)
    tuned = kb.manifest.collection_embedder(collection)
    embedder = {"name": "base", "id": kb.embedder_for(collection).embedder_id, "stale": False}
    if tuned:  # a tuned embedder changes what retrieval hands the model
        fingerprint["embedder"] = embedder["id"]
        embedder.update(name=tuned, stale=kb.embedders.get(collection, tuned).stale)
    return EvalPlan(collection, str(evalset), questions, total, limit, prepared, fingerprint, embedder, col.revision, warnings)


def answer_all(kb: "KnowledgeBase", plan: EvalPlan, adapter: str | None, judge_gen, progress: ProgressFn) -> tuple[dict[str, list[dict]], int, dict[str, Any]]:
    """Every method's answer to every question, from the cache where it has them; a method's error
    on one question is that question's answer. Returns the answers, the cache hits and the adapters used."""
    from ragkit.methods import answer_with

    answers: dict[str, list[dict]] = {}
    cached_hits = 0
    adapters_used: dict[str, Any] = {}
    cache = AnswerCache(kb.layout.eval_cache)
    try:
        for m, method in plan.methods.items():
            adapter_hash = None
            if method.needs_adapter:
                info = kb.adapters.get(plan.collection, adapter)
                record = json.loads((Path(info.path) / "ragkit.json").read_text())
                adapter_hash = f"{record.get('data_hash')}:{record.get('created_at')}"
                adapters_used[m] = {"name": info.name, "stale": info.stale, "steps": info.steps, "training_seconds": info.seconds}
            answers[m] = []
            for i, q in enumerate(plan.questions):
                key = AnswerCache.key(method=m, settings=plan.fingerprint, revision=plan.revision, adapter=adapter_hash, question=q.question)
                got = cache.get(key)
                if got is None:
                    try:
                        parts = [p for p in getattr(method, "parts", ()) if p in answers and "error" not in answers[p][i]]
                        known = {p: Answer.model_validate(answers[p][i]) for p in parts}  # self-route: rag's answer, not a second one
                        got = answer_with(method, q.question, known).to_dict()
                    except RagkitError as e:
                        got = {"method": m, "error": {"code": e.code, "message": e.message}}
                    else:
                        cache.put(key, plan.collection, plan.revision, got)
                else:
                    cached_hits += 1
                if judge_gen is not None and "error" not in got and q.answerable:
                    got = {**got, "judge": _judge_one(judge_gen, q, got["answer"])}
                answers[m].append(got)
                progress(m, i + 1, len(plan.questions))
    finally:
        cache.close()
    return answers, cached_hits, adapters_used


def build_report(kb: "KnowledgeBase", plan: EvalPlan, answers: dict[str, list[dict]], cached_hits: int, adapters_used: dict[str, Any], judged: bool, seconds: float) -> dict[str, Any]:
    """The full report (report.json): scores per question, aggregates, pairs, the winner, per kind."""
    questions, names = plan.questions, list(plan.methods)
    rows = {m: [score_row(q, a) for q, a in zip(questions, answers[m])] for m in names}
    summary = {m: aggregate(questions, rows[m]) for m in names}
    for m in names:
        if judged:
            marks = [a.get("judge") for q, a in zip(questions, answers[m]) if q.answerable and "judge" in a]
            summary[m]["judge_accuracy"] = round(sum(marks) / len(marks), 4) if marks else None
        if m in adapters_used:
            summary[m]["one_off"] = adapters_used[m]
    pairs = paired(questions, rows)
    return {
        "created_at": now_iso(),
        "collection": plan.collection,
        "collection_revision": plan.revision,
        "evalset": plan.evalset,
        "questions_in_evalset": plan.total_questions,
        "limit": plan.limit,
        "settings": plan.fingerprint,
        "embedder": plan.embedder,
        "generator": {
            "kind": kb.settings.generator,
            "model": kb.generator.model_id,
            "remote": bool(kb.generator.remote),
            "device": getattr(kb.generator, "device", None),
        },
        "environment": {"python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine()},
        "warnings": [f"source not indexed: {s}" for s in plan.warnings],
        "cached_answers": cached_hits,
        "seconds": round(seconds, 2),
        "methods": summary,
        "by_kind": {m: by_kind(questions, rows[m]) for m in names},
        "pairs": pairs,
        "winner": winner(summary, pairs),
        "questions": [
            {
                "id": q.id,
                "kind": q.kind,
                "question": q.question,
                "answer": q.answer,
                "source": q.source,
                "results": {m: {"answer": answers[m][i], "scores": rows[m][i]} for m in names},
            }
            for i, q in enumerate(questions)
        ],
    }


def run_eval(
    kb: "KnowledgeBase",
    collection: str,
    evalset: str | Path,
    *,
    methods: list[str] | None = None,
    adapter: str | None = None,
    limit: int | None = None,
    out: str | Path | None = None,
    judge: bool = False,
    progress: ProgressFn | None = None,
) -> EvalSummary:
    """Plan, answer (resuming from the cache), score, and write report.json and report.html to `out`."""
    from ragkit.evaluation.report import write_reports

    started = time.perf_counter()
    plan = plan_eval(kb, collection, evalset, methods, adapter, limit)
    judge_gen = _judge(kb) if judge else None
    answers, cached_hits, adapters_used = answer_all(kb, plan, adapter, judge_gen, progress or no_progress)
    report = build_report(kb, plan, answers, cached_hits, adapters_used, judge_gen is not None, time.perf_counter() - started)
    folder = Path(out) if out else kb.layout.root / "evals" / time.strftime("%Y%m%d-%H%M%S")
    paths = write_reports(report, folder)
    return EvalSummary(
        methods=report["methods"],
        pairs=report["pairs"],
        winner=report["winner"],
        report=str(paths["html"]),
        report_json=str(paths["json"]),
        warnings=report["warnings"],
        cached_answers=cached_hits,
        seconds=report["seconds"],
    )


def winner(summary: dict[str, dict], pairs: list[dict]) -> dict[str, Any] | None:
    """The method with the best strict accuracy, its margin over the runner-up, and whether that
    margin is significant (McNemar on strict accuracy)."""
    def score(m: str):
        return summary[m].get("strict_accuracy", summary[m]["accuracy"])

    ranked = sorted((m for m in summary if score(m) is not None), key=lambda m: -score(m))
    if not ranked:
        return None
    best = ranked[0]
    if len(ranked) == 1:
        return {"method": best, "accuracy": score(best), "runner_up": None, "margin": None, "p_value": None, "significant": None}
    second = ranked[1]
    pair = next((p for p in pairs if {p["a"], p["b"]} == {best, second}), None)
    p_value = pair["p_value"] if pair else None
    return {
        "method": best,
        "accuracy": score(best),
        "runner_up": second,
        "margin": round(score(best) - score(second), 4),
        "p_value": p_value,
        "significant": None if p_value is None else p_value < 0.05,
    }


def _judge(kb: "KnowledgeBase"):
    """The LLM judge: a configured `openai` generator, kept apart from the deterministic metrics."""
    s = kb.settings
    if not s.openai_base_url:
        raise UsageError("--judge needs an OpenAI-compatible server: set RAGKIT_OPENAI_BASE_URL (and RAGKIT_OPENAI_MODEL)", code="judge_not_configured")
    from ragkit.generation.openai_compat import OpenAIGenerator

    return OpenAIGenerator(s.openai_base_url, s.openai_model, s.resolved_openai_api_key, allow_remote=s.allow_remote)


def _judge_one(gen, q: EvalQuestion, response: str) -> float:
    from ragkit.generation.base import Message

    accepted = "; ".join(q.accepted)
    wrong = f" These values are outdated and wrong: {'; '.join(q.wrong)}." if q.wrong else ""
    messages = [
        Message("system", "You grade answers. Reply with one word: CORRECT or INCORRECT."),
        Message("user", f"Question: {q.question}\nReference answer: {accepted}.{wrong}\nResponse: {response}\nIs the response correct?"),
    ]
    verdict = gen.generate(messages, max_tokens=4).text.upper()
    return 1.0 if verdict.startswith("CORRECT") else 0.0


__all__ = ["EvalPlan", "answer_all", "build_report", "plan_eval", "run_eval", "stratified_sample", "winner"]
