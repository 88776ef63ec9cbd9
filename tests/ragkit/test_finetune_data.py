"""Knowledge-injection training data: facts (no LLM), RAFT prompts, the eval-leakage guard, encoding."""

from __future__ import annotations

import json
import re

import pytest

import ragkit
from ragkit.finetune.data import EvalGuard, Example, data_hash
from ragkit.finetune.facts import chunk_facts, facts_of
from ragkit.finetune.records import table_rows
from ragkit.types import Chunk


def chunk(text: str, title: str = "", source: str = "doc.md", **meta) -> Chunk:
    return Chunk(chunk_id=f"c-{abs(hash(text)) % 10**8}", doc_id="d", ordinal=0, text=text, embed_text=text, start=0, end=len(text), metadata={"title": title, "source": source, **meta})


def test_facts_ask_both_directions_with_short_answers():
    facts = chunk_facts(chunk("Brindlecote Labs was founded in 1994 by Ilse Marwood.\n\nThe Quellbar Q-9 weighs 12 kg.", title="Brindlecote Labs overview"))
    by_answer: dict[str, list[str]] = {}
    for f in facts:
        by_answer.setdefault(f.answer, []).append(f.question)
        assert len(f.answer.split()) <= 8 and f.answer.lower() not in f.question.lower()
    # entity -> value and value -> entity: the founder is asked for, and so is the company given its founder
    assert "Ilse Marwood" in by_answer and "Brindlecote Labs" in by_answer and "1994" in by_answer
    assert any("Brindlecote" in q for q in by_answer["Ilse Marwood"])
    assert any("Ilse Marwood" in q for q in by_answer["Brindlecote Labs"])
    assert len(by_answer["Ilse Marwood"]) >= 2  # several phrasings of one fact
    assert any(q.lower().startswith("when") or "which year" in q.lower() for q in by_answer["1994"])
    assert "12 kg" in by_answer  # a value keeps its unit


def test_a_question_that_lacks_the_subject_gets_it():
    facts = chunk_facts(chunk("The compressor starts after a delay of 90 seconds.", title="Kestrune KT-40 Operating Manual (excerpt)"))
    asked = [f.question for f in facts if f.answer == "90 seconds"]
    assert asked and all("Kestrune KT-40 Operating Manual" in q for q in asked)
    assert all("(excerpt)" not in q for q in asked)


def test_pronoun_subjects_become_the_title():
    facts = chunk_facts(chunk("It was directed by Oona Penhallow.", title="Glass Harbour (2023 film)"))
    assert any(f.answer == "Oona Penhallow" and "Glass Harbour" in f.question for f in facts)


def test_markdown_table_rows_give_column_questions():
    text = "| Model | Weight | Price |\n| --- | --- | --- |\n| Quellbar Q-9 | 12 kg | EUR 480 |\n| Quellbar Q-12 | 15 kg | EUR 610 |"
    assert list(table_rows(text))[1] == (["Model", "Weight", "Price"], ["Quellbar Q-12", "15 kg", "EUR 610"])
    qa = {(f.question, f.answer) for f in chunk_facts(chunk(text, title="Quellbar price list"))}
    assert any(q.lower().endswith("what is the weight of quellbar q-12?") and a == "15 kg" for q, a in qa)
    assert any(q.lower().endswith("what is the price of quellbar q-9?") and a == "EUR 480" for q, a in qa)
    assert any(a == "Quellbar Q-12" and "15 kg" in q for q, a in qa)  # and back: which row has this value


def test_two_column_tables_ask_for_the_parameter_of_the_subject():
    text = "| Parameter | Value |\n| --- | --- |\n| Reservoir volume | 9.5 litres |"
    qa = {(f.question, f.answer) for f in chunk_facts(chunk(text, title="Kestrune KT-40 manual"))}
    assert ("What is the reservoir volume of Kestrune KT-40 manual?", "9.5 litres") in qa


def test_csv_table_chunks_and_key_value_lines():
    csv = chunk("part_number | description | unit_price_eur\nVT-S-2051 | Level float switch | 42.80", source="data/spare-parts.csv", element_type="table")
    qa = {(f.question, f.answer) for f in chunk_facts(csv)}
    assert any(a == "42.80" and "Level float switch" in q and "unit price eur" in q for q, a in qa)  # named by its description too
    assert any(a == "42.80" and "VT-S-2051" in q for q, a in qa)
    kv = chunk("Support hotline: +31 55 700 4821\nOpening hours: 08:00 to 17:00", title="Support FAQ")
    qa = {(f.question, f.answer) for f in chunk_facts(kv)}
    assert ("What is the support hotline of Support FAQ?", "+31 55 700 4821") in qa


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    with ragkit.open(tmp_path_factory.mktemp("guard") / "home") as kb:
        yield kb.embedder  # the real MiniLM


def test_leakage_guard_drops_paraphrases_and_keeps_other_questions(embedder):
    guard = EvalGuard(["Who founded Kestrel Tools?", "What colour is gadget 3?"], embedder)
    banned = guard.banned(
        [
            "who founded kestrel tools",  # the same question, normalised
            "Who was the founder of Kestrel Tools?",  # a paraphrase
            "Kestrel Tools was founded by whom?",  # a reordering
            "Who leads the Kestrel Tools support desk?",  # another question about the same company
            "What colour is gadget 5?",  # the same words about another thing
            "How long is the Osprey 4 warranty?",
        ]
    )
    assert banned == [True, True, True, False, False, False]
    examples = [Example("facts", "p", "Ilse", question="Who was the founder of Kestrel Tools?"), Example("raw", "", "text")]
    kept, dropped = guard.filter(examples)
    assert dropped == 1 and kept == examples[1:]


def test_data_hash_covers_the_teacher_prompt():
    a = Example("distill", "student", "Ilse", question="q", teacher_prompt="teacher one")
    b = Example("distill", "student", "Ilse", question="q", teacher_prompt="teacher two")
    plain = Example("facts", "student", "Ilse", question="q")
    assert len({data_hash([a]), data_hash([b]), data_hash([plain])}) == 3


@pytest.fixture
def fake_home(tmp_path, corpus, fake_models):
    home = tmp_path / "home"
    with ragkit.open(home) as kb:
        kb.collection("default").ingest(corpus)
    return home


def test_raft_shows_the_gold_in_the_stated_share(fake_home):
    from ragkit.finetune.facts import one_per_fact
    from ragkit.finetune.raft import raft_examples

    with ragkit.open(fake_home) as kb:
        chunks = {c.chunk_id: c for c in kb.manifest.all_chunks("default")}
        facts = facts_of(chunks.values())
        examples, share = raft_examples(kb, "default", facts, gold_share=0.75)
    n = len(one_per_fact(facts))
    assert len(examples) == n > 8
    assert abs(share - 0.75) <= 0.5 / n + 1e-9
    with_gold = 0
    for ex, fact in zip(examples, one_per_fact(facts)):
        user = json.loads(ex.prompt)[1]["content"].split("\n>>>", 1)[0]  # the sources, without the question
        shown = re.findall(r"^\[(\d+)\] \(", user, flags=re.M)
        assert 1 <= len(shown) <= kb.settings.rag_k
        gold_text = chunks[fact.chunk_id].text.strip()
        cited = re.search(r"\[(\d+)\]$", ex.target)
        if cited:  # the gold is shown, as the cited source, and the answer comes first
            with_gold += 1
            block = user.split(f"[{cited.group(1)}] (", 1)[1]
            assert block.split(")\n", 1)[1].startswith(gold_text[:40])
            assert ex.target.startswith(fact.answer)
        else:  # distractors only: the answer is kept (RAFT), the gold is nowhere
            assert gold_text[:40] not in user and ex.target == fact.answer
    assert with_gold / n == share


def test_encoding_keeps_the_answer_when_sources_are_long():
    from transformers import AutoTokenizer

    from ragkit.finetune.data import _chat_prompt
    from ragkit.finetune.train import encode
    from ragkit.methods.prompts import SourceText, build_messages
    from ragkit.model_paths import bundled_llm_path

    path = bundled_llm_path()  # the GGUF: its tokenizer loads without the weights
    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    sources = [SourceText(n=1, source="a.md", text="filler words " * 600)]
    ex = Example("raft", _chat_prompt(build_messages("Who founded Kestrel Tools?", sources)), "Ilse Marwood [1]", question="q")
    enc = encode(tok, ex, 256, 512)
    assert len(enc.ids) == 512
    target = [t for t in enc.labels if t != -100]
    assert tok.decode(target[:-1]) == "Ilse Marwood [1]"
    assert "Answer:" in tok.decode(enc.ids[-len(target) - 8 :])  # the question's tail survives the cut
