"""Shared fixtures: homes in tmp_path, a tiny real corpus, a real Chroma server on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragkit.runtime import apply_defaults

apply_defaults()

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

TINY_CORPUS = {
    "osprey-4-manual.md": """# Osprey 4 Cordless Drill

The Osprey 4 is the fourth-generation cordless drill made by Kestrel Tools.

## Electrical

At full load the Osprey 4 draws 2.8 A from its 18 V battery pack.

## Warranty

Every Osprey 4 carries a warranty of 36 months from the date of purchase.
""",
    "travel-policy.txt": """Kestrel Tools travel policy, revision C.

Employees travelling for more than four hours may book business class on trains.

Hotel costs are reimbursed up to 140 euros per night in Lisbon and 120 euros elsewhere.
""",
    "support.md": """# Support hours

The Kestrel support desk answers calls from 07:30 to 18:00, Monday to Friday.

## Escalation

Unresolved tickets escalate to Marta Quintela after 48 hours.
""",
}


def write_corpus(folder: Path, files: dict[str, str] = TINY_CORPUS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def kb(home: Path):
    import ragkit

    with ragkit.open(home) as kb:
        yield kb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory) -> str:
    """`chroma run` on a free 127.0.0.1 port for the session; stopped by its PID."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        exe = Path(shutil.which("chroma") or "chroma")
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = open(data / "server.log", "wb")
    proc = subprocess.Popen(
        [str(exe), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(data / "db")],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma server exited: {(data / 'server.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError("chroma server did not start within 60 s")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The dequantized-model cache, kept between test runs (safe to delete: `make clean`)."""
    path = ROOT / ".cache" / "ragkit"
    path.mkdir(parents=True, exist_ok=True)
    return path
