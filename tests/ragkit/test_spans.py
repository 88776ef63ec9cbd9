"""Short answers: candidate spans of the evidence, the question's asked kind, the choice and abstention."""

from __future__ import annotations

import pytest

from ragkit.generation.base import ContinuationScore
from ragkit.methods.prompts import IDK, SourceText
from ragkit.methods.spans import asked_kind, best_fit, candidates, choose_by_overlap, span_answer
from ragkit.settings import Settings
from ragkit.testing import FakeGenerator
from ragkit.types import AnswerDetails, Citation


def texts(question: str, sentences: list[str]) -> list[str]:
    return [c.text for c in candidates(question, sentences)]


@pytest.mark.parametrize(
    "question, kind",
    [
        ("Who founded the company?", "person"),
        ("What is the job title of the person who signed it?", "any"),
        ("In which month and year was it launched?", "date"),
        ("Since which year has she led it?", "date"),
        ("How long does the soak step last?", "quantity"),
        ("What is the unit price of the float switch?", "quantity"),
        ("What does the warranty cost, as a share of the price?", "any"),
        ("What fault does error code E12 indicate?", "any"),  # the code is given, not asked
        ("Which new error code did firmware 3.2 add?", "code"),
        ("What is the telephone number of the service desk?", "phone"),
        ("What is the highest flow setpoint the chiller accepts?", "quantity"),
        ("Within what time should a P1 ticket get a first response?", "quantity"),
    ],
)
def test_the_wh_phrase_says_what_kind_of_span_is_asked(question, kind):
    assert asked_kind(question) == kind


def test_numbers_keep_their_currency_and_unit_and_pieces_of_a_value_are_no_answer():
    got = texts("How much capital expenditure was approved?", ["The board approved capital expenditure of EUR 2.3 million in March 2024."])
    assert got == ["EUR 2.3 million"]
    got = texts("How long does the compressor wait?", ["After power-on the compressor waits 90 seconds before it starts."])
    assert "90 seconds" in got and all(c[0].isdigit() for c in got)


def test_a_table_row_gives_its_cells_not_the_label_the_question_repeats():
    got = texts("What is the mooring depth rating of the Osprey 4L?", ["Mooring depth rating | 8–150 m | 8–200 m"])
    assert got[:2] == ["8–150 m", "8–200 m"] and "Mooring depth rating" not in got
    assert not {"8", "150", "m"} & set(got)


def test_names_codes_dates_and_phones():
    assert texts("Who founded Velmarra Thermics?", ["Velmarra Thermics was founded in 1987 by Edda Velmarra."]) == ["Edda Velmarra"]
    assert texts("What is the file name of the image?", ["Copy the image file KT40_FW_3.2.0.bin to a USB stick."])[0] == "KT40_FW_3.2.0.bin"
    assert texts("In which month and year was the OV-12 launched?", ["The OV-12 was launched in March 2021 to replace the OV-10."])[0] == "March 2021"
    assert texts("What phone number does the hotline have?", ["Hotline: +31 55 700 4821 (weekdays)"]) == ["+31 55 700 4821"]


def test_other_questions_get_short_phrases_that_do_not_start_with_the_question():
    got = texts("Which refrigerant will the KT-60 use?", ["The KT-60 will use the natural refrigerant R-290."])
    assert "R-290" in got and "-290" not in got and all(len(c.split()) <= 4 for c in got)
    assert not [c for c in got if c.startswith(("KT-60", "use", "refrigerant"))]


def test_choose_by_overlap_follows_the_model_words():
    spans = candidates("Who signed it?", ["Signed by Anna Berg and witnessed by Carl Moss."])
    assert choose_by_overlap("It was Carl Moss.", spans).text == "Carl Moss"
    assert choose_by_overlap("nothing shared", spans).text == spans[0].text


SOURCES = [
    SourceText(n=1, source="osprey.md", text="The Osprey 4 is a drill. At full load it draws 2.8 A from a 24 V supply.", chunk_id="c1"),
    SourceText(n=2, source="support.md", text="Tickets escalate to Marta Quintela after 48 hours.", chunk_id="c2"),
]
SHOWN = [Citation(n=s.n, source=s.source, chunk_id=s.chunk_id, cited=False) for s in SOURCES]
RANKED = [
    {"text": "At full load it draws 2.8 A from a 24 V supply.", "n": 1, "source": "osprey.md", "score": 0.7},
    {"text": "Tickets escalate to Marta Quintela after 48 hours.", "n": 2, "source": "support.md", "score": 0.3},
]


class Scripted:
    """A generator that scores the continuations it was told to like."""

    def __init__(self, liked: dict[str, float]):
        self.liked = liked
        self.asked: list = []

    def score(self, messages, continuations, adapter=None, adapter_path=None):
        self.asked.append((messages, list(continuations), adapter))
        return [ContinuationScore(self.liked.get(c, -9.0) * 2, 2) for c in continuations]


def run(generator, question="How much current does the Osprey 4 draw at full load?", model_text="", ranked=RANKED, **settings):
    info: dict = {"grounded": 0.5}
    s = Settings(**settings)
    answer, abstained, citations = span_answer(generator, question, model_text, ranked, SHOWN, SOURCES, s, info)
    return answer, abstained, citations, info


def test_the_span_the_model_finds_most_likely_is_the_answer_and_cites_its_source():
    gen = Scripted({"2.8 A": -0.5, "24 V": -1.5})
    answer, abstained, citations, info = run(gen)
    assert (answer, abstained) == ("2.8 A", False)
    assert citations == [Citation(n=1, source="osprey.md", chunk_id="c1", cited=True)]
    assert info["answer_from"] == "span" and info["span"]["kind"] == "number" and info["span"]["logprob"] == -0.5
    AnswerDetails(**info)  # the keys are the typed details'
    prompt = gen.asked[0][0][-1].content
    assert "At full load it draws 2.8 A" in prompt and "Tickets escalate" in prompt  # the evidence sentences, numbered as shown
    gen = Scripted({"2.8 A": -3.0, "24 V": -1.0})
    assert run(gen)[0] == "24 V"  # the model decides, not the order of the sentences


def test_unlikely_spans_weak_evidence_and_no_candidate_abstain():
    answer, abstained, _, info = run(Scripted({}), span_min_logprob=-5.0)
    assert (answer, abstained, info["abstain_reason"]) == (IDK, True, "unsupported")
    weak = [dict(RANKED[0], score=0.2)]
    answer, abstained, _, info = run(Scripted({"2.8 A": -0.1}), ranked=weak)
    assert (answer, abstained, info["abstain_reason"]) == (IDK, True, "weak_evidence")
    answer, abstained, _, info = run(Scripted({}), ranked=[])
    assert abstained and info["abstain_reason"] == "weak_evidence"
    only_question = [{"text": "The Osprey 4 draws current at full load.", "n": 1, "source": "osprey.md", "score": 0.8}]
    answer, abstained, _, info = run(Scripted({}), ranked=only_question)
    assert abstained and info["abstain_reason"] == "no_candidate"


def test_a_question_asking_a_date_or_quantity_is_not_answered_by_another_kind_of_span():
    release = ["Firmware 3.2.0 for the KT-40 was released by the Controls Firmware team."]
    assert candidates("When is firmware 3.3 for the KT-40 scheduled?", release) == []
    assert candidates("What dividend per share did Velmarra pay?", ["The annual report was published on 18 March 2024."]) == []
    assert [c.text for c in candidates("Who released firmware 3.2.0?", release)] == ["Controls Firmware"]  # names stay the fallback's
    assert candidates("Who leads it?", ["version: 4.0.0 | model: DS-400"]) == []  # and "who" is never a code
    ranked = [{"text": release[0], "n": 1, "source": "osprey.md", "score": 0.8}]
    answer, abstained, _, info = run(Scripted({"3.2.0": -0.1}), question="When is the next firmware release scheduled?", ranked=ranked)
    assert (answer, abstained, info["abstain_reason"]) == (IDK, True, "no_candidate")
    answer, abstained, _, _ = run(Scripted({"2.8 A": -0.5}))
    assert (answer, abstained) == ("2.8 A", False)  # with a span of the asked form, nothing changes


def test_the_model_words_compete_when_the_evidence_states_them():
    gen = Scripted({"2.8 A from a 24 V supply": -0.2})
    answer, _, _, info = run(gen, model_text="2.8 A from a 24 V supply")
    assert answer == "2.8 A from a 24 V supply" and info["span"]["kind"] == "model"
    answer, _, _, _ = run(Scripted({"2.8 A": -1.0}), model_text="3.1 A")  # words the evidence does not state are not a candidate
    assert answer == "2.8 A"
    # words that do not fit what is asked (a quantity starts with its number) do not compete
    answer, _, _, info = run(Scripted({"full load it draws 2.8 A": -0.1, "2.8 A": -1.0}), model_text="full load it draws 2.8 A")
    assert answer == "2.8 A" and info["span"]["kind"] != "model"


def test_a_labelled_table_row_gives_its_values_typed_and_the_asked_column_wins():
    row = "Item code: TB-14 | Description: Tamsel TB-14 heated bath circulator, 14 litres, 2.0 kW | List price (EUR): 2940 | Lead time: 2 weeks"
    got = candidates("What is the list price of a Tamsel TB-14 bath circulator?", [row])
    assert "2940" in [c.text for c in got]
    assert not [c for c in got if c.text.startswith(("Tamsel", "Item code", "List price"))]  # a description holding a number is no price
    phone = candidates("What is the telephone number of the desk?", ["Centre: Service Desk | Phone: +31 55 700 4960 | Manager: Ilse Brandt"])
    assert [(c.text, c.kind) for c in phone] == [("+31 55 700 4960", "phone")]
    steps = "Test: Run-in soak | Acceptance criterion: Continuous operation at 20 °C | Duration: 8 hours"
    spans = candidates("How long does the run-in soak step last?", [steps])
    scores = [-1.0] * len(spans)  # the model has no preference: the column named by "how long" decides
    assert spans[best_fit("How long does the run-in soak step last?", spans, scores, [steps])].text == "8 hours"


def test_a_number_inside_a_date_and_a_hop_bridge_are_no_answer():
    got = texts("How many days per week may staff work remotely?", ["From 1 May 2024 employees may work remotely up to three days per week."])
    assert "three days" in got and not [c for c in got if c.startswith(("2024", "1 May"))]
    ranked = [{"text": "part number: VT-S-2045 | description: Flow sensor assembly | fits: KT-40", "n": 1, "source": "osprey.md", "score": 0.7}]
    info = {"hops": [{"entities": ["VT-S-2045"]}, {}]}
    answer, _, _ = span_answer(Scripted({"VT-S-2045": -0.1, "Flow sensor assembly": -1.0}), "Which part was replaced?", "", ranked, SHOWN, SOURCES, Settings(), info)
    assert answer == "Flow sensor assembly"


def test_without_scores_the_choice_follows_the_generated_answer():
    class Plain:  # an OpenAI-compatible server: no score()
        pass

    answer, abstained, _, info = run(Plain(), model_text="It is rated for a 24 V supply")
    assert (answer, abstained) == ("24 V", False) and info["span"]["logprob"] is None


def test_the_fake_generator_scores_what_its_quoted_sentence_holds():
    fake = FakeGenerator()
    answer, _, _, _ = run(fake)
    assert answer == "2.8 A"


def test_a_list_of_names_is_one_candidate_and_pieces_of_names_are_not_phrases():
    sentence = "Past Lives is a 2023 American romantic drama film directed by Celine Song, starring Greta Lee, Teo Yoo, and John Magaro."
    assert "Greta Lee, Teo Yoo, and John Magaro" in texts("Who starred in Past Lives?", [sentence])
    got = texts("What is the genre of Past Lives?", [sentence])
    assert "American romantic drama film" in got and "Celine" not in got and "Song" not in got
    assert len(got) <= 48


def test_what_a_sentence_says_its_subject_is_and_what_follows_the_question_words_are_candidates():
    genre = texts("What is the genre of Abandonada?", ["Abandonada is a 2022 Argentine psychological horror film directed by Ana Ruiz."])
    assert genre[0] == "2022 Argentine psychological horror film"
    based = texts("What is Teresa based on?", ['Teresa is based on the play "La lengua en pedazos" by Juan Mayorga.'])
    assert 'play "La lengua en pedazos" by Juan Mayorga' in based
    assert texts("What is the setting of the film?", ["It is a drama."]) == ["drama"]  # a definition, once


def test_a_year_or_number_inside_a_date_is_no_candidate_of_its_own():
    assert texts("When was the association founded?", ["The association was founded on October 4, 1993 in Hyderabad."]) == ["October 4, 1993"]


def test_of_two_likely_names_the_one_beside_the_question_words_answers():
    ranked = [{"text": "The Beekeeper, written by Kurt Wimmer over three long years, was directed by David Ayer.", "n": 1, "source": "osprey.md", "score": 0.8}]
    gen = Scripted({"Kurt Wimmer": -1.0, "David Ayer": -1.1})  # the model alone slightly prefers the writer
    answer, abstained, _, _ = run(gen, question="Who directed The Beekeeper?", ranked=ranked)
    assert (answer, abstained) == ("David Ayer", False)
    assert run(Scripted({"Kurt Wimmer": -1.0, "David Ayer": -4.0}), question="Who directed The Beekeeper?", ranked=ranked)[0] == "Kurt Wimmer"  # likelihood still counts


def test_labelled_sentences_say_what_each_value_is_and_whose():
    from ragkit.methods.base import sentences

    table = "Site | Headcount | Site lead\n--- | --- | ---\nDunsholt | 196 | Wendeline Hoorn\nPort Ardlow | 41 | Cormac Essenby"
    assert sentences(table, labelled=True) == ["Site: Dunsholt | Headcount: 196 | Site lead: Wendeline Hoorn", "Site: Port Ardlow | Headcount: 41 | Site lead: Cormac Essenby"]
    assert sentences(table) == ["Site | Headcount | Site lead", "--- | --- | ---", "Dunsholt | 196 | Wendeline Hoorn", "Port Ardlow | 41 | Cormac Essenby"]  # raw: as written
    assert sentences("2021 | 14.2\n2022 | 15.9", labelled=True) == ["2021 | 14.2", "2022 | 15.9"]  # no header row: rows as they are
    record = "ticket: VT-102\npriority: P1\npart_replaced: VT-S-2045\n\nThe end."
    assert sentences(record, labelled=True) == ["ticket: VT-102", "ticket: VT-102 | priority: P1", "ticket: VT-102 | part replaced: VT-S-2045", "The end."]
    cut = "products[2].model: KT-60\nproducts[2].status: announced\nproducts[3].\nmodel: OV-10\nproducts[3].successor: OV-12"
    assert sentences(cut, labelled=True) == [
        "products[2].model: KT-60", "products[2].model: KT-60 | products[2].status: announced",
        "products[3].model: OV-10", "products[3].model: OV-10 | products[3].successor: OV-12",
    ]  # one record per list item, a line a chunk boundary cut made whole
    wrapped = "DECISION: From 1 May 2024 employees whose role allows it may work remotely up to\nthree days per week. Tuesday stays."
    assert sentences(wrapped, labelled=True)[0].endswith("up to three days per week.")


def test_a_code_the_question_names_decides_between_sibling_rows_and_cells():
    from ragkit.methods.codes import code_fit, missing_codes, named_codes, without_sibling_cells

    question = "When was firmware 4.0.0 for the DS-400 released?"
    assert named_codes(question) == ["4.0.0", "DS-400"]
    assert named_codes("What is the 12V rating in the 1990s of the 21st unit?") == []  # quantities and ordinals are no codes
    # the record that states the asked version beats its sibling's, which shares the model
    assert code_fit("version: 4.0.0 | released: 2023-11-02", ["4.0.0", "DS-400"]) == 1 and code_fit("version: 4.1.0 | model: DS-400", ["4.0.0", "DS-400"]) == -1
    assert code_fit("The KT40 draws 3 A.", ["KT-40"]) == 1 and code_fit("model: KT-400 | current: 3 A", ["KT-40"]) == -1  # another model's row
    assert code_fit("It replaced the KT-400 in 2021.", ["KT-40"]) == 0  # prose naming a sibling may still be about the KT-40
    row = "Specification: Maximum depth | DS-200: 300 m | DS-400: 600 m"
    assert without_sibling_cells(row, ["DS-400"]) == "Specification: Maximum depth | DS-400: 600 m"
    assert texts("What is the maximum depth of the DS-400?", [row]) == ["600 m"]
    assert missing_codes(["4.2", "DS-400"], ["version: 4.1.0 | model: DS-400", "firmware 4.2.1 notes"]) == ["4.2"]
    assert missing_codes(["4.1"], ["version 4.1.0"]) == []  # "4.1" is 4.1.0


def test_a_question_about_a_code_no_source_names_is_not_answered():
    answer, abstained, _, info = run(Scripted({"2.8 A": -0.1}), question="How much current does the Osprey 6 draw at full load?")
    assert not abstained  # no code named: answered from what is shown
    answer, abstained, _, info = run(Scripted({"2.8 A": -0.1}), question="How much current does the OS-6 draw at full load?")
    assert (answer, abstained, info["abstain_reason"], info["missing_codes"]) == (IDK, True, "code_not_found", ["OS-6"])
    AnswerDetails(**info)


def test_what_a_change_left_a_share_a_month_and_addresses():
    price = ["From 1 April 2024 the list price of the DS-200 rises from EUR 1,240 to EUR 1,390."]
    assert texts("What is the list price of the DS-200?", price) == ["EUR 1,390"]  # what the change left is no answer
    assert texts("What was the DS-200 list price before April 2024?", price) == ["EUR 1,240", "EUR 1,390"]  # unless asked
    launch = ["DECISION: the DS-600 launch moves from October 2024 to the second quarter of 2025."]
    assert texts("When will the DS-600 launch?", launch) == ["second quarter of 2025"]
    revenue = ["Revenue was EUR 38.4 million.", "Exports made up 71% of revenue."]
    assert texts("What share of revenue came from exports?", revenue) == ["71%"]
    assert texts("In which month and year was the OV-12 launched?", ["products[4].model: OV-12 | products[4].launch year: 2021", "It was launched in March 2021."]) == ["March 2021"]
    assert texts("When was firmware 4.0.0 released?", ["version: 4.1.0 | model: DS-400"]) == []  # a version is no date
    assert texts("When does the office close?", ["The office is open from 9:00 to 17:00."]) == ["9:00", "17:00"]
    mail = ["from: Ottilie Fenwarde | to: sales-team@velmarra.example", "Role: Director of Sales"]
    assert "sales-team@velmarra.example" not in texts("What is the job title of the sender?", mail)
    assert "sales-team@velmarra.example" in texts("To which e-mail address was it sent?", mail)


def test_a_record_head_alone_is_no_evidence_and_number_words_are_values():
    from ragkit.methods.base import evidence_lines
    from ragkit.methods.currency import values

    record = "version: 4.1.0\nmodel: DS-400\nreleased: 2024-04-22"
    assert evidence_lines(record) == ["version: 4.1.0 | model: DS-400", "version: 4.1.0 | released: 2024-04-22"]
    assert len(evidence_lines("built_at: Dunsholt\nproducts[5].model: TB-6\nproducts[5].family: Tamsel")) == 3  # a line cut from the item before stays
    assert values("up to two days per week") != values("up to three days per week")  # a newer policy's "three" supersedes "two"


def test_a_question_about_a_lasting_attribute_is_not_answered_with_a_date():
    bio = ["Nikita Saltykov (born 11 August 2004) is a Russian football player who plays as a left winger for Krylia Sovetov."]
    for question in ("What is Nikita Saltykov's nationality?", "What sport does Nikita Saltykov play?", "What position does he play?"):
        got = texts(question, bio)
        assert got and not any(s in g for g in got for s in ("2004", "August", "born"))
        assert "Russian" in got
    assert "11 August 2004" in texts("When was Nikita Saltykov born?", bio)
    assert any("2004" in g for g in texts("What is known about Nikita Saltykov?", bio))  # other questions keep every span
    only_dates = ["The club was founded on 4 May 1921."]
    assert texts("What award did the club win?", only_dates)  # with nothing else, the dates stay candidates
    transfer = ["Páez signed a pre-contract and will join Chelsea in July 2025."]
    assert "Chelsea in July 2025" in texts("Which club will Páez join in July 2025?", transfer)  # the question names the time
    turner = ["Andrew Turner (born 16 February 2002) is an English rugby union player."]
    assert "16 February 2002" not in texts("What nationality is Andrew Turner (rugby union, born 2002)?", turner)  # a year names no time
    from ragkit.methods.spans import _temporal

    assert _temporal("1925–2002", "number") and not _temporal("or")  # years alone, not connectors alone
