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
SERVER_ENV = {"RAGKIT_MAX_TOKENS": "16", "RAGKIT_MAX_UPLOAD_FILES": "30", "RAGKIT_LOG_FORMAT": "json"}


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
    with ragkit.open(home) as kb:
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
