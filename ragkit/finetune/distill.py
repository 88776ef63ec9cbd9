"""`distill`: prompt distillation — the base model reading the chunk teaches the adapter that does not.

Kujanpää et al. 2024, "Knowledge Injection via Prompt Distillation" (arXiv 2412.14964): the same
model with the document in its prompt is the teacher, the model without it (here: the LoRA
adapter, closed-book prompt) the student, trained to match the teacher's next-token
distributions over the teacher's own answer. Here, for each fact (one phrasing per fact of the
`facts` builder), the teacher prompt is ragkit's rag prompt with the gold chunk as source [1];
its greedy answer is generated once and cached under the cache folder, keyed by model and
prompt, so a resumed or repeated run does not generate again. The loss (KL(teacher || student)
over the answer tokens, the teacher being the same peft model with the adapter disabled) is
computed in train.py for every Example that carries a `teacher_prompt`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ragkit.finetune.data import Example, _chat_prompt
from ragkit.finetune.facts import one_per_fact

if TYPE_CHECKING:
    from ragkit.finetune.facts import Fact
    from ragkit.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

TEACHER_MAX_TOKENS = 24


class TeacherCache:
    """Teacher answers by (model, prompt) in one JSON Lines file: generated once, reused."""

    def __init__(self, path: Path):
        self.path = path
        self.answers: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.answers[row["key"]] = row["answer"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by an interrupted run

    @staticmethod
    def key(model_id: str, prompt: str) -> str:
        return hashlib.sha256(f"{model_id}\x1f{prompt}".encode()).hexdigest()[:24]

    def add(self, key: str, answer: str) -> None:
        self.answers[key] = answer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "answer": answer}) + "\n")


def distill_examples(kb: "KnowledgeBase", collection: str, facts: list["Fact"], progress=None) -> list[Example]:
    """One distillation example per fact: student = closed-book prompt, teacher = rag prompt with the
    gold chunk, target = the teacher's greedy answer (facts the teacher cannot answer are left out)."""
    from ragkit.generation.local import LocalGenerator
    from ragkit.methods.abstain import says_unknown
    from ragkit.methods.prompts import STOP, SourceText, build_messages, clean_answer, parse_citations

    chunks = {c.chunk_id: c for c in kb.manifest.all_chunks(collection)}
    teacher = LocalGenerator(kb.settings.llm_path, kb.settings.cache_dir)  # the base model, whatever generator answers
    cache = TeacherCache(Path(kb.settings.cache_dir) / "distill" / f"{teacher.model_id}.jsonl")
    chosen = one_per_fact(facts)
    out: list[Example] = []
    for i, fact in enumerate(chosen):
        chunk = chunks.get(fact.chunk_id)
        if chunk is None:
            continue
        source = SourceText(n=1, source=str(chunk.metadata.get("source", "")), text=chunk.text, chunk_id=chunk.chunk_id, heading=chunk.metadata.get("heading"))
        teacher_prompt = _chat_prompt(build_messages(fact.question, [source]))
        key = TeacherCache.key(teacher.model_id, teacher_prompt)
        if key not in cache.answers:
            text = teacher.generate(build_messages(fact.question, [source]), max_tokens=TEACHER_MAX_TOKENS, stop=STOP).text
            cache.add(key, parse_citations(clean_answer(text), 1)[0])
        answer = cache.answers[key]
        if progress is not None:
            progress("distill: teacher answers", i + 1, len(chosen))
        if not answer or says_unknown(answer):
            continue
        out.append(Example("distill", _chat_prompt(build_messages(fact.question, None)), answer, question=fact.question, teacher_prompt=teacher_prompt))
    log.info("distill: %d of %d facts answered by the teacher", len(out), len(chosen))
    return out
