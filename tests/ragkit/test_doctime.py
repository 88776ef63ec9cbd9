"""Document time on each kind of input, and supersession on a built pair of documents."""

from __future__ import annotations

import json
import os
import time

import pytest

import ragkit
from ragkit.doctime import document_time
from ragkit.methods.currency import Candidate, Dated, as_of, choose_current, keep_newer_versions
from tests.conftest import FAKE_MODELS


@pytest.mark.parametrize(
    "text, source, metadata, expected",
    [
        ("Re: prices\n\nFrom 1 June the list (effective 15 January 2024) changes.", "m.eml", {"date": "Mon, 20 May 2024 09:14:00 +0200"}, ("2024-05-20", "email_date")),
        ("Final test procedure QP-07, revision C, issued 22 April 2024. Supersedes revision B (June 2021).", "qp.docx", {}, ("2024-04-22", "issued")),
        ("Quality manual\nRev D, February 2024\n\nScope ...", "manual.md", {}, ("2024-02-01", "issued")),
        ("Travel policy, version 2.0\nEffective from 1 April 2024\nOwner: Finance.", "travel.md", {}, ("2024-04-01", "effective")),
        ("Support FAQ for staff. Updated 15 August 2024.\n\nHow do I ...", "faq.txt", {}, ("2024-08-15", "updated")),
        ("These terms apply to products delivered on or after 1 March 2023.", "warranty.html", {}, ("2023-03-01", "effective")),
        ("Roadmap 2025\nManagement offsite, 14 November 2024", "roadmap.pptx", {}, ("2024-11-14", "stated")),
        ("Minutes of the board, nothing dated here.", "2024-03-14-minutes.txt", {}, ("2024-03-14", "source_name")),
    ],
)
def test_each_kind_of_date_and_its_origin(text, source, metadata, expected):
    when = document_time(text, source, metadata)
    assert when is not None and (when.date, when.origin) == expected


def test_a_file_with_no_date_is_dated_by_its_modification_time(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    f = folder / "parts.txt"
    f.write_text("Spare parts: the flow sensor assembly VT-S-2045 costs EUR 24.50.")
    os.utime(f, (time.time(), 1_700_000_000))  # 2023-11-14 UTC
    assert document_time(f.read_text(), "parts.txt") is None
    with ragkit.open(tmp_path / "home", **FAKE_MODELS) as kb:
        col = kb.collection("default")
        col.ingest(folder)
        doc = col.documents()[0]
        assert (doc.effective_date, doc.date_origin) == ("2023-11-14", "file_mtime")
        hit = col.query("flow sensor", k=1).hits[0]
        assert hit.metadata["doc_date"] == "2023-11-14" and hit.metadata["doc_date_num"] == 20231114
        assert col.query("flow sensor", where={"doc_date_num": {"$gte": 20240101}}).hits == []


OLD = "# Travel policy\n\nEffective from 1 February 2022.\n\nThe per diem for a full day on a domestic business trip is EUR 48.\n"
NEW = "# Travel policy\n\nEffective from 1 April 2024. This version replaces the 2022 policy.\n\nThe per diem for a full day on a domestic business trip is EUR 62.\n"


@pytest.fixture
def pair(tmp_path):
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "travel-2022.md").write_text(OLD)
    (folder / "travel-2024.md").write_text(NEW)
    return folder


def test_the_newer_source_wins_and_the_answer_says_what_it_replaced(tmp_path, pair):
    with ragkit.open(tmp_path / "home", **FAKE_MODELS) as kb:
        col = kb.collection("default")
        col.ingest(pair)
        a = col.ask("What is the per diem for a full day on a domestic business trip?", method="rag")
        assert "62" in a.answer and "48" not in a.answer
        assert a.details["followed"]["source"] == "travel-2024.md" and a.details["followed"]["reason"] in ("newer", "supersedes")
        assert [s["source"] for s in a.details["superseded"]] == ["travel-2022.md"] and "48" in a.details["superseded"][0]["text"]
        lc = col.ask("What is the per diem for a full day on a domestic business trip?", method="long-context")
        assert "62" in lc.answer and "48" not in lc.answer and "travel-2024.md" in lc.details["sources_in_context"]
        assert lc.details["followed"]["source"] == "travel-2024.md"
        then = col.ask("What was the per diem for a full day on a domestic business trip in 2023?", method="rag")
        assert "48" in then.answer and then.details["followed"]["reason"] == "as_of"
        listed = {d.source: (d.effective_date, d.date_origin) for d in col.documents()}
        assert listed == {"travel-2022.md": ("2022-02-01", "effective"), "travel-2024.md": ("2024-04-01", "effective")}


def test_choose_current_rules():
    old = Candidate("The per diem is EUR 48 per full day.", 0.80, "a.md", 1, Dated("2022-02-01", "effective"))
    new = Candidate("The per diem is EUR 62 per full day.", 0.74, "b.md", 2, Dated("2024-04-01", "effective"))
    unrelated = Candidate("Hotels are booked through the travel desk.", 0.79, "c.md", 3, Dated("2025-01-01", "effective"))
    chosen, older, reason = choose_current([old, new, unrelated], "What is the per diem?")
    assert chosen is new and older == [old] and reason == "newer"
    mtime_only = Candidate("The per diem is EUR 50 per full day.", 0.79, "d.md", 4, Dated("2026-01-01", "file_mtime"))
    assert choose_current([old, mtime_only], "What is the per diem?")[0] is old  # a stated date beats a file time
    assert as_of("for an order received in July 2024") == "2024-07-31" and as_of("the 2022 policy") == "2022-12-31" and as_of("What now?") is None


def test_retrieval_keeps_a_newer_version_ahead_of_the_older_one():
    from ragkit.types import Hit

    def hit(rank, doc, text, when):
        return Hit(rank=rank, score=1 / rank, doc_id=doc, source=f"{doc}.md", chunk_id=f"{doc}-{rank}", text=text, metadata={"doc_date": when, "doc_date_origin": "effective"})

    hits = [hit(1, "old", "Per diem for domestic trips: EUR 48 per full day.", "2022-02-01"), hit(2, "x", "Hotel rules.", "2023-01-01"),
            hit(3, "y", "Train rules.", "2023-01-01"), hit(4, "new", "Per diem for domestic trips: EUR 62 per full day.", "2024-04-01")]
    kept = keep_newer_versions(hits, 3, "What is the per diem?")
    assert [h.doc_id for h in kept[:3]] == ["new", "old", "x"]


def written(tmp_path, files: dict[str, str]):
    """A folder `docs` under tmp_path holding the given files."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


REGISTER = "# Site register\n\nThe buoy at the Harwick site is an Osprey 4L, serial OS4L-2291.\n"
MANUAL = "# Osprey 4L manual\n\nThe Osprey 4L mooring depth rating is 8-200 m.\n\nIts battery lasts 14 months.\n"


def test_two_hops_resolve_the_entity_a_question_needs_first(tmp_path):
    from ragkit.methods.hops import bridge_entities, plan

    p = plan("What is the mooring depth rating of the buoy model that is installed at the Harwick site?")
    assert p is not None and p.reason == "relative_clause" and p.first_query.startswith("is installed at the Harwick site")
    assert plan("How long is the Osprey 4L warranty?") is None
    assert bridge_entities("The buoy at the Harwick site is an Osprey 4L, serial OS4L-2291, installed in March.", "the Harwick site") == ["OS4L-2291", "Osprey 4L"]
    with ragkit.open(tmp_path / "home", **FAKE_MODELS) as kb:
        col = kb.collection("default")
        col.ingest(written(tmp_path, {"register.md": REGISTER, "manual.md": MANUAL}))
        a = col.ask("What is the mooring depth rating of the buoy model that is installed at the Harwick site?", method="rag")
        hops = a.details["hops"]
        assert len(hops) == 2 and hops[0]["sources"][0] == "register.md" and "Osprey 4L" in hops[0]["entities"]
        assert "manual.md" in hops[1]["sources"] and a.details["retrieved"][0]["source"] == "manual.md"  # the second hop's document first
        assert "8-200 m" in a.answer and {c.source for c in a.citations} <= {"register.md", "manual.md"}
        lc = col.ask("What is the mooring depth rating of the buoy model that is installed at the Harwick site?", method="long-context")
        assert len(lc.details["hops"]) == 2 and lc.details["sources_in_context"][0] == "manual.md" and "8-200 m" in lc.answer
        one = col.ask("How long does the Osprey 4L battery last?", method="rag")
        assert "hops" not in one.details


TICKETS = "\n".join(
    json.dumps(t)
    for t in [
        {"ticket": "VT-101", "customer": "Halloran Bioworks", "priority": "P2", "part_replaced": "VT-E-4421"},
        {"ticket": "VT-102", "customer": "Stellmark Optics", "priority": "P1", "part_replaced": "VT-S-2045"},
        {"ticket": "VT-103", "customer": "Orrin Metrology", "priority": "P3", "part_replaced": None},
    ]
)
FAQ = "# Support FAQ\n\nResponse times by priority:\n\n- P1 (unit down): first response within 4 hours.\n- P2 (degraded): first response within 1 working day.\n- P3 (question): first response within 3 working days.\n"
PARTS = "part_number,description,unit_price_eur\nVT-E-4421,Thermocouple input card,212.00\nVT-S-2045,Flow sensor assembly,187.00\nVT-F-1120,Condenser filter mat,24.50\n"


def test_a_named_record_is_the_first_hop_and_its_field_the_bridge(tmp_path):
    with ragkit.open(tmp_path / "home", **FAKE_MODELS) as kb:
        col = kb.collection("default")
        col.ingest(written(tmp_path, {"tickets.jsonl": TICKETS, "faq.md": FAQ, "spare-parts.csv": PARTS}))
        a = col.ask("Given its priority, within what time should support ticket VT-102 have received a first response?", method="rag")
        first = a.details["hops"][0]
        assert first["bridge"] == "ticket: VT-102 | priority: P1" and first["entities"] == ["P1"]  # the named ticket's own field, not a neighbour's
        assert a.answer == "4 hours" and a.details["evidence"]["source"] == "faq.md"
        b = col.ask("What spare part (by its catalogue description) was replaced to resolve support ticket VT-102?", method="rag")
        assert b.details["hops"][0]["entities"] == ["VT-S-2045"]
        assert "VT-S-2045" in b.details["evidence"]["text"] and b.answer != "VT-S-2045"  # the bridge is what was resolved, not the answer
