"""`ragkit bench http`: a real `ragkit serve` on loopback under load from concurrent clients, stopped afterwards."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragkit.cli import build_app

pytestmark = pytest.mark.usefixtures("fake_models")  # the server subprocess inherits the fakes through the environment


def test_bench_http_reports_each_level_and_stops_its_server(corpus, tmp_path, monkeypatch):
    made = []

    class Recorded(tempfile.TemporaryDirectory):
        def __init__(self, *a, **kw):
            super().__init__(*a, dir=tmp_path, **kw)
            made.append(Path(self.name))

    monkeypatch.setattr(tempfile, "TemporaryDirectory", Recorded)  # the temporary home and the server's log
    args = ["bench", "http", str(corpus), "--seconds", "1", "--concurrency", "1,3", "--max-requests", "30", "-k", "3", "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["route"] == "POST /v1/collections/{c}/query" and report["k"] == 3
    assert [lv["concurrency"] for lv in report["levels"]] == [1, 3]
    for level in report["levels"]:
        assert 0 < level["requests"] <= 30 and level["errors"] == 0
        assert level["qps"] > 0 and 0 < level["p50_ms"] <= level["p99_ms"]
    assert report["errors"] == 0
    assert len(made) == 1 and not made[0].exists()  # the temporary home and the server's log are gone with the server


def test_bench_http_refuses_bad_levels_and_two_sources(corpus, tmp_path):
    app = build_app()
    bad = CliRunner().invoke(app, ["bench", "http", str(corpus), "--concurrency", "0,2", "--json"])
    assert bad.exit_code == 2 and "--concurrency" in bad.stdout
    both = CliRunner().invoke(app, ["bench", "http", str(corpus), "--home", str(tmp_path / "h"), "--json"])
    assert both.exit_code == 2 and "either PATH" in both.stdout
