"""Property test: random add/change/delete sequences, each synced with prune, against a dict model."""

from __future__ import annotations

import pytest

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest.test_sync import state

pytestmark = pytest.mark.usefixtures("fake_models")  # model-free: ragkit.testing's fakes through the plugin registry

NAMES = ["a.txt", "b.md", "sub/c.txt", "sub/deeper/d.md"]
WORDS = ["kestrel", "osprey", "drill", "battery", "warranty", "lisbon", "invoice", "falcon"]

ops = st.lists(
    st.tuples(
        st.sampled_from(["write", "delete"]),
        st.sampled_from(NAMES),
        st.lists(st.sampled_from(WORDS), min_size=3, max_size=12).map(" ".join),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=ops)
def test_random_mutations_match_model(sequence, kb):
    folder = Path(tempfile.mkdtemp(prefix="ragkit-prop-"))
    col_name = f"prop-{abs(hash(tuple(sequence))) % 10**8}"
    col = kb.collection(col_name)
    model: dict[str, str] = {}
    try:
        for op, name, text in sequence:
            path = folder / name
            if op == "write":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"Note about {text}.\n", encoding="utf-8")
                model[name] = f"Note about {text}."
            elif path.exists():
                path.unlink()
                model.pop(name, None)
            report = col.ingest(folder, prune=True)
            assert not report.failed
            held = state(kb, col_name)
            assert set(held) == set(model)
            for source, text in model.items():
                stored = kb.manifest.chunks_by_id(held[source])
                assert " ".join(c.text for c in sorted(stored.values(), key=lambda c: c.ordinal)) == text
    finally:
        shutil.rmtree(folder, ignore_errors=True)
