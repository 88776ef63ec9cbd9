"""A killed ingest converges on re-run; a second process on a locked home gets a clear error."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ragkit
from tests.conftest import ROOT
from tests.ingest.test_sync import state

pytestmark = pytest.mark.slow


def make_folder(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        body = " ".join(f"Record {i} line {j}: the Kestrel part K-{i}-{j} weighs {i + j} grams." for j in range(12))
        (folder / f"doc-{i:04d}.txt").write_text(body, encoding="utf-8")
    return folder


def ingest_cmd(home: Path, folder: Path) -> list[str]:
    return [sys.executable, "-m", "ragkit.cli", "ingest", str(folder), "--home", str(home), "--json"]


def revision(home: Path) -> int:
    db = home / "manifest.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            row = conn.execute("SELECT revision FROM collections WHERE name='default'").fetchone()
            return int(row[0]) if row else 0
    except sqlite3.Error:
        return 0


def test_kill_mid_ingest_then_rerun_converges(tmp_path):
    folder = make_folder(tmp_path / "docs", 400)
    killed_home, clean_home = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen(ingest_cmd(killed_home, folder), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while revision(killed_home) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "ingest finished before it could be killed; make the folder larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(ingest_cmd(killed_home, folder), cwd=ROOT, check=True, capture_output=True)
    subprocess.run(ingest_cmd(clean_home, folder), cwd=ROOT, check=True, capture_output=True)
    with ragkit.open(killed_home) as a:
        got = state(a)
    with ragkit.open(clean_home) as b:
        want = state(b)
    assert got == want
    assert len(got) == 400


def test_second_process_on_locked_home_gets_clear_error(tmp_path, corpus):
    home = tmp_path / "home"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import ragkit, time; kb = ragkit.open({str(home)!r}); kb.lock_for_writing(); print('locked', flush=True); time.sleep(60)"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        out = subprocess.run(ingest_cmd(home, corpus), cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 1
        err = json.loads(out.stdout)["error"]
        assert err["code"] == "home_locked"
        assert str(holder.pid) in err["message"] and "RAGKIT_CHROMA_URL" in err["message"]
    finally:
        holder.kill()
        holder.wait()
    # the lock dies with its holder
    out = subprocess.run(ingest_cmd(home, corpus), cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["added"] == 3
