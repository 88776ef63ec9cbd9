"""A real `ragkit serve` on 127.0.0.1 over a home with two collections and keys of every kind."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, loopback_server, write_corpus

OTHER_CORPUS = {"heron-2.md": "# Heron 2 sander\n\nThe Heron 2 orbital sander weighs 1.9 kg and runs at 12,000 orbits per minute.\n"}
# the HTTP layer is what these tests are about: the server runs on ragkit.testing's model-free fakes
# (the methods on the real models are tested in tests/ragkit/test_methods.py, slow tier)
SERVER_ENV = {
    "RAGKIT_MAX_TOKENS": "16", "RAGKIT_MAX_UPLOAD_FILES": "30", "RAGKIT_LOG_FORMAT": "json",
    "RAGKIT_GENERATOR": "fake", "RAGKIT_EMBED_RUNTIME": "fake",
}


@dataclass
class LiveServer:
    url: str
    home: Path
    port: int
    pid: int
    admin_key: str
    read_key: str  # read on `docs`
    write_key: str  # write on `docs`
    other_key: str  # write on `other` only
    log: Path

    def client(self, key: str | None = None, timeout: float = 300) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


def serve_command(home: Path, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ragkit.cli", "serve", "--home", str(home), "--port", str(port), *extra]


def ready(url: str):
    def check() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> LiveServer:
    import ragkit
    from ragkit.storage.keys import KeyStore

    root = tmp_path_factory.mktemp("service")
    home = root / "home"
    with ragkit.open(home, generator=SERVER_ENV["RAGKIT_GENERATOR"], embed_runtime=SERVER_ENV["RAGKIT_EMBED_RUNTIME"]) as kb:
        kb.collection("docs").ingest(write_corpus(root / "corpus"))
        kb.collection("other").ingest(write_corpus(root / "other", OTHER_CORPUS))
        keys = KeyStore(kb.layout.keys)
        made = {
            "admin": keys.create(admin=True),
            "read": keys.create(["docs"]),
            "write": keys.create(["docs"], write=True),
            "other": keys.create(["other"], write=True),
        }
        keys.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env_before = {k: os.environ.get(k) for k in SERVER_ENV}
    os.environ.update(SERVER_ENV)
    try:
        with loopback_server(serve_command(home, port), root / "server.log", ready(url), "ragkit serve", timeout=120) as proc:
            yield LiveServer(url, home, port, proc.pid, made["admin"]["key"], made["read"]["key"], made["write"]["key"], made["other"]["key"], root / "server.log")
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- the real app in process (FastAPI TestClient) or a real server, on the model-free fakes ------

FAST = {"embed_runtime": "fake", "generator": "fake", "max_tokens": 16}
FAST_ENV = {f"RAGKIT_{k.upper()}": str(v) for k, v in FAST.items()}


def fast_settings(home: Path, **overrides):
    """Settings for a home served with the fake embedder and generator (ragkit.testing), which load in milliseconds."""
    from ragkit.settings import load_settings

    return load_settings(home=home, **{**FAST, **overrides})


def seed_home(home: Path, corpus_root: Path, collections: dict[str, dict[str, str]] | None = None) -> str:
    """Ingest each collection's files (default: `docs` with the tiny corpus) and return an admin key."""
    import ragkit
    from ragkit.storage.keys import KeyStore
    from tests.conftest import TINY_CORPUS

    with ragkit.open(home, **FAST) as kb:
        for name, files in (collections or {"docs": TINY_CORPUS}).items():
            kb.collection(name).ingest(write_corpus(corpus_root / name, files))
        keys = KeyStore(kb.layout.keys)
        key = keys.create(admin=True)["key"]
        keys.close()
    return key


def wait_ready(client, timeout: float = 60):
    """Poll /readyz until 200 (returns its body) or fail with the last body."""
    import time

    deadline = time.time() + timeout
    while True:
        r = client.get("/readyz")
        if r.status_code == 200:
            return r.json()
        assert time.time() < deadline, r.text
        time.sleep(0.05)


@pytest.fixture
def app_home(tmp_path) -> tuple[Path, str]:
    """A home with the tiny corpus in `docs` (fake embedder) and an admin key."""
    home = tmp_path / "home"
    return home, seed_home(home, tmp_path / "corpus")


def running_app(settings, key: str | None = None):
    """The real app (create_app) in a TestClient, its lifespan run; authenticated as `key`."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return TestClient(create_app(settings), headers=headers, raise_server_exceptions=False)
