"""Starting and stopping the server: first-run advice, --no-auth rules, restarts that interrupt jobs, graceful shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import free_port, loopback_server, write_corpus
from tests.service.conftest import ready, serve_command


def test_no_auth_is_refused_off_loopback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "ragkit.cli", "serve", "--no-auth", "--host", "0.0.0.0", "--home", str(tmp_path / "h")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "only allowed on a loopback address" in r.stderr


def test_a_home_without_keys_says_how_to_create_one_and_refuses_requests(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with loopback_server(serve_command(tmp_path / "home", port), log, ready(url), "ragkit serve", timeout=120):
        assert httpx.get(f"{url}/v1/collections").status_code == 401
    text = log.read_text()
    assert "no API keys" in text and f"ragkit keys create --admin --home {tmp_path / 'home'}" in text


def test_no_auth_on_loopback_warns_and_serves(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with loopback_server(serve_command(tmp_path / "home", port, "--no-auth"), log, ready(url), "ragkit serve", timeout=120):
        assert httpx.get(f"{url}/v1/collections").json() == {"collections": []}
    assert "AUTHENTICATION IS OFF" in log.read_text()


def start_long_job(url: str, headers: dict) -> tuple[dict, dict]:
    """A fine-tune that would run for minutes, and a job queued behind it; returns once the first runs."""
    job = httpx.post(f"{url}/v1/collections/docs/adapters", json={"name": "long", "steps": 500}, headers=headers).json()
    queued = httpx.post(f"{url}/v1/collections/docs/adapters", json={"name": "later", "steps": 1}, headers=headers).json()
    deadline = time.time() + 300
    while httpx.get(f"{url}{job['url']}", headers=headers).json()["state"] != "running":
        assert time.time() < deadline
        time.sleep(0.5)
    return job, queued


def assert_interrupted(url: str, headers: dict, jobs) -> None:
    for j in jobs:
        state = httpx.get(f"{url}{j['url']}", headers=headers).json()
        assert state["state"] == "interrupted" and state["error"]["code"] == "interrupted", state


@pytest.mark.slow
def test_sigterm_stops_a_running_job_and_a_crash_is_noticed_at_the_next_start(tmp_path):
    import ragkit
    from ragkit.storage.keys import KeyStore

    home = tmp_path / "home"
    with ragkit.open(home) as kb:
        kb.collection("docs").ingest(write_corpus(tmp_path / "corpus"))
        keys = KeyStore(kb.layout.keys)
        key = keys.create(admin=True)["key"]
        keys.close()
    headers = {"Authorization": f"Bearer {key}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # graceful: SIGTERM during a fine-tune ends the process promptly and records both jobs as interrupted
    with loopback_server(serve_command(home, port), tmp_path / "first.log", ready(url), "ragkit serve", timeout=120) as proc:
        graceful = start_long_job(url, headers)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert "Application shutdown complete" in (tmp_path / "first.log").read_text()
    # a crash: nobody records anything, so the next start must notice
    with loopback_server(serve_command(home, port), tmp_path / "second.log", ready(url), "ragkit serve", timeout=120) as proc:
        assert_interrupted(url, headers, graceful)
        crashed = start_long_job(url, headers)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with loopback_server(serve_command(home, port), tmp_path / "third.log", ready(url), "ragkit serve", timeout=120):
        assert_interrupted(url, headers, crashed)
    assert "job(s) were interrupted" in (tmp_path / "third.log").read_text()
