"""`embed_runtime = "int8"`: the real MiniLM with dynamically quantised linear layers."""

from __future__ import annotations

import numpy as np

import ragkit
from ragkit.embedding.encoder import SentenceTransformerEmbedder

TEXTS = [
    "At full load the Osprey 4 draws 2.8 A from its 18 V battery pack.",
    "Hotel costs are reimbursed up to 140 euros per night in Lisbon.",
    "Unresolved tickets escalate to Marta Quintela after 48 hours.",
    "Vitamin D deficiency is associated with a higher risk of fractures in older adults.",
]


def test_int8_vectors_stay_close_to_fp32_and_carry_their_own_id():
    fp32 = SentenceTransformerEmbedder()
    int8 = SentenceTransformerEmbedder(runtime="int8")
    assert int8.embedder_id == fp32.embedder_id + "+int8"
    a, b = fp32.embed_documents(TEXTS), int8.embed_documents(TEXTS)
    cosine = (a * b).sum(axis=1)
    assert cosine.min() > 0.95 and not np.allclose(a, b)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    # the nearest text is still the same one
    assert ((a @ a.T).argsort(axis=1)[:, -2] == (b @ b.T).argsort(axis=1)[:, -2]).all()


def test_switching_the_runtime_re_embeds_on_the_next_ingest(corpus, home):
    with ragkit.open(home) as kb:
        assert kb.collection("tiny").ingest(corpus).added == 3
    with ragkit.open(home, embed_runtime="int8") as kb:
        report = kb.collection("tiny").ingest(corpus)
        assert report.updated == 3 and report.chunks_added > 0
        assert kb.collection("tiny").query("How many amps does the drill draw?", k=1).hits[0].source == "osprey-4-manual.md"
        assert kb.collection("tiny").ingest(corpus).unchanged == 3
