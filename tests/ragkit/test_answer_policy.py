"""The `evidence` answer policy: keep agreeing model words, else quote the best source sentence, else abstain."""

from __future__ import annotations

from ragkit.methods.base import evidence_answer
from ragkit.methods.prompts import IDK, SourceText
from ragkit.settings import Settings
from ragkit.types import Citation

SOURCES = [
    SourceText(n=1, source="osprey.md", text="The Osprey 4 is a drill. At full load it draws 2.8 A.", chunk_id="c1"),
    SourceText(n=2, source="support.md", text="Tickets escalate to Marta Quintela after 48 hours.", chunk_id="c2"),
]
SHOWN = [Citation(n=1, source="osprey.md", chunk_id="c1", cited=False), Citation(n=2, source="support.md", chunk_id="c2", cited=False)]
SETTINGS = Settings(evidence_min_score=0.5, evidence_min_agreement=0.8)


def run(text: str, evidence: dict | None):
    info: dict = {"grounded": 0.3}
    answer, abstained, citations = evidence_answer(text, evidence, SHOWN, SOURCES, SETTINGS, info)
    return answer, abstained, citations, info


def test_the_model_answer_stays_when_it_comes_from_the_best_sentence():
    answer, abstained, citations, info = run("It draws 2.8 A.", {"text": "At full load it draws 2.8 A.", "n": 1, "source": "osprey.md", "score": 0.71})
    assert (answer, abstained, citations) == ("It draws 2.8 A.", False, SHOWN)
    assert info["answer_from"] == "model"


def test_a_disagreeing_answer_is_replaced_by_the_sentence_and_cites_it():
    answer, abstained, citations, info = run(
        "The Kestrel Support Team handles them.", {"text": "Tickets escalate to Marta Quintela after 48 hours.", "n": 2, "source": "support.md", "score": 0.55}
    )
    assert answer == "Tickets escalate to Marta Quintela after 48 hours." and not abstained
    assert citations == [Citation(n=2, source="support.md", chunk_id="c2", cited=True)]
    assert info["answer_from"] == "evidence" and info["grounded"] == 1.0 and info["model_grounded"] == 0.3


def test_a_model_that_says_it_does_not_know_gets_the_sentence_when_it_matches_well():
    answer, abstained, _, _ = run("I don't know.", {"text": "At full load it draws 2.8 A.", "n": 1, "source": "osprey.md", "score": 0.6})
    assert answer == "At full load it draws 2.8 A." and not abstained


def test_weak_or_missing_evidence_means_abstain():
    for evidence in (None, {"text": "At full load it draws 2.8 A.", "n": 1, "source": "osprey.md", "score": 0.49}):
        answer, abstained, citations, info = run("Blue.", evidence)
        assert (answer, abstained, citations) == (IDK, True, SHOWN)
        assert info["abstain_reason"] == "weak_evidence"


def test_an_answer_without_content_words_gets_the_sentence():
    # only stop words: nothing to check against the evidence (a lora-rag answer on wiki-newpages bio)
    for text in ("It is.", "The."):  # grounded_fraction is None for these
        answer, abstained, _, info = run(text, {"text": "At full load it draws 2.8 A.", "n": 1, "source": "osprey.md", "score": 0.6})
        assert answer == "At full load it draws 2.8 A." and not abstained and info["answer_from"] == "evidence"
