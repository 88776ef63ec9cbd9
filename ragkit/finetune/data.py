"""Training data builders (raw chunks, a user's QA pairs, synthetic QA, facts, RAFT, distillation)
and the eval-leakage guard; facts.py, raft.py and distill.py hold the three knowledge-injection builders."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ragkit.errors import InputError, UsageError
from ragkit.jsonl import read_jsonl
from ragkit.textnorm import normalize

if TYPE_CHECKING:
    from ragkit.knowledge_base import KnowledgeBase

BUILDERS = ("raw", "qa", "synthetic", "facts", "distill", "raft")
NEAR_DUPLICATE = 0.9  # MiniLM cosine at or above which a training question counts as an eval question


@dataclass(frozen=True)
class Example:
    """One training example: `prompt` is not trained on (empty for raw text), `target` is.

    With a `teacher_prompt` (the `distill` builder) the loss is KL(teacher || student) over the
    target's tokens: the teacher sees `teacher_prompt`, the student (the adapter) sees `prompt`.
    """

    kind: str
    prompt: str
    target: str
    question: str | None = None
    teacher_prompt: str | None = None


def read_qa_file(path: str | Path, *, answerable_only: bool = True) -> list[tuple[str, str]]:
    """(question, answer) pairs from JSON Lines with `question` and `answer` (SPEC eval-set lines work)."""
    p = Path(path)
    pairs = []
    for n, row in read_jsonl(p, code="invalid_line"):
        try:
            q, a = str(row["question"]).strip(), str(row.get("answer", "")).strip()
        except (KeyError, TypeError, AttributeError) as e:
            raise InputError(f"{p} line {n}: expected a JSON object with question and answer ({e})", code="invalid_line", source=str(p)) from e
        if not answerable_only or (q and a and a != "UNANSWERABLE"):
            pairs.append((q, a))
    return pairs


def raw_examples(kb: "KnowledgeBase", collection: str) -> list[Example]:
    """Continued pre-training on each chunk, with its document title and heading path."""
    out = []
    for chunk in kb.manifest.all_chunks(collection):
        head = chunk.metadata.get("title") or chunk.metadata.get("source", "")
        if chunk.metadata.get("heading") and chunk.metadata["heading"] != head:
            head = f"{head} > {chunk.metadata['heading']}"
        out.append(Example("raw", "", f"{head}\n{chunk.text}"))
    return out


def synthetic_examples(kb: "KnowledgeBase", collection: str, max_chunks: int = 200, paraphrases: int = 0) -> list[tuple[str, str]]:
    """QA pairs the configured generator writes from each chunk (a stronger `openai` generator writes better ones).

    Two short steps suit small models best: write a question the chunk answers, then answer it
    from that chunk with the same prompt `rag` uses. Pairs whose answer is empty or "I don't
    know" are dropped; `paraphrases` adds reworded questions (sampled) with the same answer.
    """
    from ragkit.generation.base import Message
    from ragkit.methods.abstain import says_unknown
    from ragkit.methods.prompts import SourceText, build_messages, clean_answer, parse_citations

    gen = kb.generator
    pairs: list[tuple[str, str]] = []
    for i, chunk in enumerate(kb.manifest.all_chunks(collection)):
        if i >= max_chunks:
            break
        ask = [
            Message("system", "You write one quiz question about a fact stated in the text. Reply with the question only."),
            Message("user", f"Text:\n{chunk.text[:1500]}\n\nQuestion:"),
        ]
        question = _first_line(gen.generate(ask, max_tokens=48).text)
        if not question.endswith("?"):
            continue
        source = [SourceText(n=1, source=str(chunk.metadata.get("source", "")), text=chunk.text[:1500])]
        answer, _ = parse_citations(clean_answer(gen.generate(build_messages(question, source), max_tokens=32).text), 1)
        if not answer or says_unknown(answer) or len(answer) > 200:
            continue
        pairs.append((question, answer))
        for _ in range(paraphrases):
            reword = [Message("system", "Rewrite the question with different words. Reply with the question only."), Message("user", question)]
            variant = _first_line(gen.generate(reword, max_tokens=48, temperature=0.7).text)
            if variant.endswith("?") and variant != question:
                pairs.append((variant, answer))
    return pairs


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return re.sub(r"^(q(uestion)?\s*[:.]\s*)", "", line, flags=re.I).strip()


_VALUE_RE = re.compile(r"\w*\d[\w.,/-]*")


class EvalGuard:
    """Which training questions an eval set forbids: the same question once normalised, or a near
    duplicate (MiniLM cosine >= `threshold`) that names every number and code the eval question
    names — "What colour is gadget 3?" and "... gadget 5?" ask different things, a reworded
    question asks the same. On examples/ (63 eval questions, 2,861 facts questions) 0.9 drops the
    few rewordings of an eval question and nothing else; a paraphrase scores 0.91-0.98, "gadget 3"
    against "gadget 5" 0.87."""

    def __init__(self, eval_questions: list[str], embedder=None, threshold: float = NEAR_DUPLICATE):
        self.questions = eval_questions
        self.normalised = {normalize(q) for q in eval_questions}
        self.embedder = embedder
        self.threshold = threshold
        self._vectors = embedder.embed_documents(eval_questions) if embedder is not None and eval_questions else None

    @classmethod
    def from_file(cls, eval_file: str | Path | None, embedder=None, threshold: float = NEAR_DUPLICATE) -> "EvalGuard | None":
        if not eval_file:
            return None
        return cls([q for q, _ in read_qa_file(eval_file, answerable_only=False)], embedder, threshold)

    def banned(self, questions: list[str]) -> list[bool]:
        """For each question: does training on it leak an eval question?"""
        out = [normalize(q) in self.normalised for q in questions]
        if self._vectors is None or not questions:
            return out
        import numpy as np

        sims = np.asarray(self.embedder.embed_documents(questions)) @ np.asarray(self._vectors).T
        for i, q in enumerate(questions):
            if out[i]:
                continue
            values = set(_VALUE_RE.findall(q.lower()))
            for j in np.flatnonzero(sims[i] >= self.threshold):
                if set(_VALUE_RE.findall(self.questions[j].lower())) <= values:
                    out[i] = True
                    break
        return out

    def filter(self, examples: list[Example]) -> tuple[list[Example], int]:
        asked = [i for i, e in enumerate(examples) if e.question]
        flags = self.banned([examples[i].question for i in asked])
        drop = {i for i, f in zip(asked, flags) if f}
        return [e for i, e in enumerate(examples) if i not in drop], len(drop)


def exclude_eval(examples: list[Example], eval_file: str | Path | None, embedder=None) -> tuple[list[Example], int]:
    """Drop examples whose question is an eval question or a near duplicate of one: training on them is leakage."""
    guard = EvalGuard.from_file(eval_file, embedder)
    return guard.filter(examples) if guard else (examples, 0)


def qa_to_examples(pairs: Iterable[tuple[str, str]], kind: str) -> list[Example]:
    from ragkit.methods.prompts import build_messages

    out = []
    for q, a in pairs:
        out.append(Example(kind, _chat_prompt(build_messages(q, None)), a, question=q))
    return out


def _chat_prompt(messages) -> str:
    """Serialised so the trainer can apply the model's chat template (see train.encode)."""
    return json.dumps([m.to_dict() for m in messages])


@dataclass(frozen=True)
class BuiltData:
    """What the builders made: the examples left after the leakage guard, how many it dropped, and
    per-builder figures (examples per builder; for raft the share with the gold chunk shown)."""

    examples: list[Example]
    excluded: int
    stats: dict


def check_builders(data: list[str]) -> None:
    for d in data:
        if d not in BUILDERS:
            raise UsageError(f"unknown --data builder {d!r}; choose from {', '.join(BUILDERS)}", code="invalid_data")


def build_examples(
    kb: "KnowledgeBase",
    collection: str,
    data: list[str],
    train_qa: str | None,
    *,
    exclude_eval_file: str | Path | None = None,
    raft_gold_share: float = 0.8,
    progress=None,
) -> BuiltData:
    """Every requested builder's examples, the eval questions (and their near duplicates) left out.

    `raft` and `distill` are built from the facts questions that survived the guard, so no
    retrieval or teacher generation is spent on a question that will be dropped."""
    from ragkit.finetune.facts import facts_of

    check_builders(data)
    guard = EvalGuard.from_file(exclude_eval_file, kb.embedder) if exclude_eval_file else None
    examples: list[Example] = []
    stats: dict = {}
    excluded = 0

    def add(name: str, items: list[Example]):
        nonlocal excluded
        if guard is not None:
            items, n = guard.filter(items)
            excluded += n
        stats[name] = len(items)
        examples.extend(items)

    if "raw" in data:
        add("raw", raw_examples(kb, collection))
    if "qa" in data:
        if not train_qa:
            raise UsageError("--data qa needs --train-qa FILE (JSON Lines with question and answer)", code="missing_train_qa")
        add("qa", qa_to_examples(read_qa_file(train_qa), "qa"))
    if "synthetic" in data:
        add("synthetic", qa_to_examples(synthetic_examples(kb, collection), "synthetic"))
    if {"facts", "raft", "distill"} & set(data):
        facts = facts_of(kb.manifest.all_chunks(collection))
        if guard is not None:
            flags = guard.banned([f.question for f in facts])
            dropped = sum(flags)
            facts = [f for f, bad in zip(facts, flags) if not bad]
            excluded += dropped  # counted once: raft and distill reuse these questions
        if "facts" in data:
            stats["facts"] = len(facts)
            examples.extend(qa_to_examples([(f.question, f.answer) for f in facts], "facts"))
        if "raft" in data:
            from ragkit.finetune.raft import raft_examples

            built, share = raft_examples(kb, collection, facts, gold_share=raft_gold_share)
            stats["raft"], stats["raft_gold_share"] = len(built), share
            examples.extend(built)
        if "distill" in data:
            from ragkit.finetune.distill import distill_examples

            built = distill_examples(kb, collection, facts, progress=progress)
            stats["distill"] = len(built)
            examples.extend(built)
    return BuiltData(examples, excluded, stats)


def data_hash(examples: list[Example]) -> str:
    """Identifies a run's data (checkpoints resume only on the same data); covers every field trained on."""
    h = hashlib.sha256()
    for e in examples:
        teacher = f"\x1f{e.teacher_prompt}" if e.teacher_prompt is not None else ""  # absent: the hash of older runs
        h.update(f"{e.kind}\x1f{e.prompt}\x1f{e.target}{teacher}\x1e".encode())
    return h.hexdigest()[:16]
