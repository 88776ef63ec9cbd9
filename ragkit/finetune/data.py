"""Training data builders: raw chunks, a user's QA pairs, synthetic QA, and the eval-leakage guard."""

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

BUILDERS = ("raw", "qa", "synthetic")


@dataclass(frozen=True)
class Example:
    """One training example: `prompt` is not trained on (empty for raw text), `target` is."""

    kind: str
    prompt: str
    target: str
    question: str | None = None


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


def exclude_eval(examples: list[Example], eval_file: str | Path | None) -> tuple[list[Example], int]:
    """Drop examples whose question matches an eval question (normalised): training on them is leakage."""
    if not eval_file:
        return examples, 0
    banned = {normalize(q) for q, _ in read_qa_file(eval_file, answerable_only=False)}
    kept = [e for e in examples if e.question is None or normalize(e.question) not in banned]
    return kept, len(examples) - len(kept)


def qa_to_examples(pairs: Iterable[tuple[str, str]], kind: str) -> list[Example]:
    from ragkit.methods.prompts import build_messages

    out = []
    for q, a in pairs:
        out.append(Example(kind, _chat_prompt(build_messages(q, None)), a, question=q))
    return out


def _chat_prompt(messages) -> str:
    """Serialised so the trainer can apply the model's chat template (see train.encode)."""
    return json.dumps([m.to_dict() for m in messages])


def build_examples(kb: "KnowledgeBase", collection: str, data: list[str], train_qa: str | None) -> list[Example]:
    for d in data:
        if d not in BUILDERS:
            raise UsageError(f"unknown --data builder {d!r}; choose from {', '.join(BUILDERS)}", code="invalid_data")
    examples: list[Example] = []
    if "raw" in data:
        examples += raw_examples(kb, collection)
    if "qa" in data:
        if not train_qa:
            raise UsageError("--data qa needs --train-qa FILE (JSON Lines with question and answer)", code="missing_train_qa")
        examples += qa_to_examples(read_qa_file(train_qa), "qa")
    if "synthetic" in data:
        examples += qa_to_examples(synthetic_examples(kb, collection), "synthetic")
    return examples


def data_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(f"{e.kind}\x1f{e.prompt}\x1f{e.target}\x1e".encode())
    return h.hexdigest()[:16]
