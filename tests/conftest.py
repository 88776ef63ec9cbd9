"""Shared fixtures: homes in tmp_path, a tiny real corpus, a real Chroma server on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest

from ragkit.process_defaults import apply_defaults

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


def load_benchmark(name: str):
    """A script of benchmarks/ as a module (they are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


@contextmanager
def loopback_server(cmd: list[str], log_path: Path, ready: Callable[[], bool], name: str, timeout: float = 60) -> Iterator[subprocess.Popen]:
    """Run a server process in its own session until `ready()`; stop it by its process group at the end."""
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + timeout
        while not ready():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {log_path.read_text(errors='replace')[-2000:]}")
            if time.time() > deadline:
                raise RuntimeError(f"{name} did not get ready within {timeout:.0f} s")
            time.sleep(0.2)
        yield proc
    finally:
        from service.bench import stop_server

        stop_server(proc, grace=10)
        log.close()


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory) -> str:
    """`chroma run` on a free 127.0.0.1 port for the session; stopped by its PID."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        exe = Path(shutil.which("chroma") or "chroma")
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    cmd = [str(exe), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(data / "db")]
    with loopback_server(cmd, data / "server.log", lambda: port_open(port), "chroma server"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The dequantized-model cache, kept between test runs (safe to delete: `make clean`)."""
    path = ROOT / ".cache" / "ragkit"
    path.mkdir(parents=True, exist_ok=True)
    return path


FAKE_MODELS = {"generator": "fake", "embed_runtime": "fake"}
"""Settings that select ragkit.testing's deterministic fakes through the plugin registry."""


@pytest.fixture
def fake_models(monkeypatch):
    """The fakes for everything this test opens, subprocesses included (through the environment)."""
    monkeypatch.setenv("RAGKIT_GENERATOR", "fake")
    monkeypatch.setenv("RAGKIT_EMBED_RUNTIME", "fake")
