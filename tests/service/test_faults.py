"""Crashes: a real `ragkit serve` killed with SIGKILL mid-ingest and mid-eval, then started again.

- An upload large enough to be a job is killed once some but not all of its documents are in
  the manifest; after each restart the same upload is sent and killed again, this time while a
  write is half-done (its intent recorded, its vectors going in, its rows not committed: KILLS). After the last restart: the job reads `interrupted`, the collection is consistent
  (no write intents left, Chroma's ids are the manifest's chunk ids), and uploading the same
  files again leaves a collection equal to a clean ingest of them into a fresh home: the same
  documents and chunks, the same BM25 hits, no orphan vectors.
- An eval job is killed part-way through its questions. After the restart it reads
  `interrupted`; submitting it again resumes from the answer cache (what was answered before the
  kill is not answered again) and gives the same summary as a run wholly from the cache.

The servers run on the fake models (ragkit.testing); the kill takes the whole process group
(the server and its parser processes), as an OOM kill or a power cut would. These two are
`slow`; the last test (a fault the soak found: parser processes forked mid-serving held the
server's connections open) runs in the default tier.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import TINY_CORPUS, free_port, loopback_server
from tests.service.conftest import FAST_ENV, ready, seed_home, serve_command
from tests.service.test_api import wait_job

COLLECTION = "docs"
QUERY = "kestrel invoice turbine warranty"
KILLS = (("after a write", 0.0), ("in a write", 0.0), ("in a write", 0.03))  # (when, then how many seconds later): one per restart


@contextmanager
def server(home: Path, log: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """A `ragkit serve` on the fakes over `home`; stopped with SIGTERM at the end unless already dead."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with loopback_server(serve_command(home, port), log, ready(url), "ragkit serve", timeout=120) as proc:
        yield proc, url


def kill_hard(proc: subprocess.Popen) -> None:
    """SIGKILL to the server's process group: no shutdown hook, no job marked, nothing flushed."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def fakes(monkeypatch):
    for k, v in {**FAST_ENV, "DO_NOT_TRACK": "1", "RAGKIT_LOG_FORMAT": "json"}.items():
        monkeypatch.setenv(k, v)


def admin_key(home: Path) -> str:
    import ragkit
    from ragkit.storage.keys import KeyStore

    with ragkit.open(home, embed_runtime="fake", generator="fake") as kb:
        kb.store(COLLECTION, create=True)
        keys = KeyStore(kb.layout.keys)
        key = keys.create(admin=True)["key"]
        keys.close()
    return key


INSPECT = r"""
import json, sys
from ragkit.storage.home import HomeLayout
from ragkit.storage.manifest import Manifest
from ragkit.storage.chroma_index import ChromaIndex, chroma_client
layout, c = HomeLayout(sys.argv[1]), sys.argv[2]
m = Manifest(layout.manifest)
docs = {d.source: {"doc_id": d.doc_id, "file_hash": d.file_hash, "content_hash": d.content_hash, "status": d.status, "chunks": sorted(m.chunk_ids(d.doc_id))} for d in m.documents(c)}
manifest_ids = sorted(m.chunk_ids_of_collection(c))
vector_ids = sorted(ChromaIndex(chroma_client(layout.chroma), c).ids())
print(json.dumps({"documents": docs, "manifest_ids": manifest_ids, "vector_ids": vector_ids, "pending": m.pending_intents(c), "stats": list(m.stats(c))}))
"""


def inspect_home(home: Path) -> dict:
    """The collection as stored, read in a fresh process with no server running (and without the recovery opening a store runs)."""
    out = subprocess.run([sys.executable, "-c", INSPECT, str(home), COLLECTION], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def corpus_files(n: int = 36, words: int = 12000, seed: int = 7) -> list[tuple[str, bytes]]:
    """`n` distinct text files of about `words` words each (~80 KB): enough work that the upload is a job and takes seconds."""
    rng = random.Random(seed)
    vocabulary = [f"{a}{b}" for a in ("kes", "tur", "inv", "war", "osp", "her", "mar", "lis", "bat", "dri") for b in ("trel", "bine", "oice", "ranty", "rey", "on", "ta", "bon", "tery", "ll")]
    files = []
    for i in range(n):
        paragraphs = []
        for p in range(words // 120):
            sentence = " ".join(rng.choice(vocabulary) for _ in range(120))
            paragraphs.append(f"Section {i}.{p}: {sentence} figure {rng.randint(0, 10**6)}.")
        files.append((f"report-{i:03d}.txt", "\n\n".join(paragraphs).encode()))
    return files


def upload(client: httpx.Client, files: list[tuple[str, bytes]]) -> httpx.Response:
    return client.post(f"/v1/collections/{COLLECTION}/documents", files=[("files", (name, data, "text/plain")) for name, data in files])


def write_intents(home: Path) -> int:
    """Write intents in the manifest now (read beside the running server: SQLite in WAL mode)."""
    from ragkit.storage.home import HomeLayout

    db = sqlite3.connect(HomeLayout(home).manifest, timeout=5)
    try:
        return db.execute("SELECT count(*) FROM pending WHERE collection = ?", (COLLECTION,)).fetchone()[0]
    finally:
        db.close()


def documents_in(client: httpx.Client) -> int:
    return next(x for x in client.get("/v1/collections").json()["collections"] if x["name"] == COLLECTION)["documents"]


def bm25_hits(client: httpx.Client) -> list[tuple[str, str, float]]:
    r = client.post(f"/v1/collections/{COLLECTION}/query", json={"query": QUERY, "k": 20, "mode": "bm25"})
    assert r.status_code == 200, r.text
    return [(h["source"], h["chunk_id"], round(h["score"], 6)) for h in r.json()["hits"]]


def assert_consistent(state: dict) -> None:
    """No write left half-done and no orphan vector: the index holds exactly the manifest's chunks."""
    assert state["pending"] == {}, state["pending"]
    assert state["vector_ids"] == state["manifest_ids"], (len(state["vector_ids"]), len(state["manifest_ids"]))
    assert sorted(i for d in state["documents"].values() for i in d["chunks"]) == state["manifest_ids"]


@pytest.mark.slow
def test_kill_9_mid_upload_then_restart_and_upload_again_equals_a_clean_ingest(tmp_path: Path, fakes):
    files = corpus_files()
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"
    key_a, key_b = admin_key(crashed), admin_key(clean)
    auth = lambda key: {"Authorization": f"Bearer {key}"}  # noqa: E731

    # 1. the upload becomes a job; SIGKILL once more of it is in the manifest, and again after each restart
    kills, job_url = [], None
    for i, (moment, delay) in enumerate(KILLS):
        with server(crashed, tmp_path / f"a{i}.log") as (proc, url):
            with httpx.Client(base_url=url, headers=auth(key_a), timeout=120) as c:
                if job_url:  # the job the last kill cut short
                    job = c.get(job_url).json()
                    assert job["state"] == "interrupted" and job["error"]["code"] == "interrupted", job
                before = documents_in(c)
                r = upload(c, files)
                assert r.status_code == 202, r.text
                job_url = r.json()["url"]
                deadline = time.time() + 300
                if moment == "after a write":
                    while documents_in(c) <= before:
                        assert time.time() < deadline, "the upload made no progress"
                        time.sleep(0.05)
                else:  # "in a write": its intent is recorded, its vectors going in, its rows not yet committed
                    while not write_intents(crashed):
                        assert time.time() < deadline and documents_in(c) < len(files), "no write was caught in progress"
                        time.sleep(0.002)
                time.sleep(delay)
                kill_hard(proc)
        at_kill = inspect_home(crashed)
        kills.append({"moment": moment, "documents": len(at_kill["documents"]), "orphans": len(set(at_kill["vector_ids"]) - set(at_kill["manifest_ids"])), "intents": len(at_kill["pending"])})
        if len(at_kill["documents"]) == len(files):
            break  # this one finished first: the restart below still has to find it consistent
    assert 0 < kills[0]["documents"] < len(files)
    assert any(k["intents"] for k in kills if k["moment"] == "in a write"), kills  # a half-done write was left for the recovery

    # 2. restart: the last job is interrupted, recovery leaves the partial collection consistent
    with server(crashed, tmp_path / "a-restart.log") as (proc, url):
        with httpx.Client(base_url=url, headers=auth(key_a), timeout=120) as c:
            job = c.get(job_url).json()
            assert job["state"] in ("interrupted", "succeeded"), job
            assert job["state"] == "interrupted" or kills[-1]["documents"] == len(files), job
    recovered = inspect_home(crashed)
    assert_consistent(recovered)
    assert set(recovered["documents"]) <= {name for name, _ in files}
    assert all(d["status"] == "indexed" for d in recovered["documents"].values()), recovered["documents"]

    # 3. the same files again finish the sync; a fresh home gets them cleanly
    results = {}
    for home, key, log in ((crashed, key_a, "a-again.log"), (clean, key_b, "b.log")):
        with server(home, tmp_path / log) as (proc, url):
            with httpx.Client(base_url=url, headers=auth(key), timeout=120) as c:
                r = upload(c, files)
                assert r.status_code == 202, r.text
                job = wait_job(c, r.json()["url"], timeout=600)
                assert job["state"] == "succeeded", job
                report = job["result"]
                assert report["failed"] == [] and report["skipped"] == [], report
                results[home] = {"report": report, "bm25": bm25_hits(c)}
    resumed = results[crashed]["report"]
    assert resumed["added"] + resumed["unchanged"] == len(files) and resumed["unchanged"] == len(recovered["documents"]), resumed
    assert results[clean]["report"]["added"] == len(files)

    a, b = inspect_home(crashed), inspect_home(clean)
    assert_consistent(a)
    assert_consistent(b)
    assert a["documents"] == b["documents"]  # sources, ids, hashes and every chunk id
    assert a["stats"] == b["stats"] == [len(files), len(b["manifest_ids"])]
    assert results[crashed]["bm25"] == results[clean]["bm25"] and results[clean]["bm25"]
    print(f"\nfaults upload: {len(files)} files, kills (documents in the manifest, orphan vectors, write intents at each): {kills}; "
          f"after restart {len(recovered['documents'])} documents, consistent; after re-upload equal to a clean ingest "
          f"({a['stats'][1]} chunks; clean ingest {results[clean]['report']['seconds']} s)")


def evalset(n: int) -> bytes:
    """`n` distinct questions (the cache keys on the question text) over the tiny corpus."""
    asks = ["How long is the Osprey 4 warranty?", "How much current does the Osprey 4 draw at full load?", "Who do unresolved tickets escalate to?", "What is the hotel limit in Lisbon?"]
    answers = ["36 months", "2.8 A", "Marta Quintela", "140 euros"]
    rows = [{"id": f"q{i:04d}", "question": f"{asks[i % 4]} (case {i})", "answer": answers[i % 4]} for i in range(n)]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.slow
def test_kill_9_mid_eval_then_restart_shows_interrupted_and_resubmitting_resumes_from_the_cache(tmp_path: Path, fakes):
    home = tmp_path / "home"
    key = seed_home(home, tmp_path / "corpus", {COLLECTION: TINY_CORPUS})
    n = 1200
    form = {"methods": "rag"}
    headers = {"Authorization": f"Bearer {key}"}

    with server(home, tmp_path / "e1.log") as (proc, url):
        with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
            r = c.post(f"/v1/collections/{COLLECTION}/evals", files={"evalset": ("set.jsonl", evalset(n))}, data=form)
            assert r.status_code == 202, r.text
            eval_id, job_url = r.json()["id"], r.json()["url"]
            deadline = time.time() + 300
            while True:
                job = c.get(job_url).json()
                if job["state"] == "running" and job["progress"] >= 0.2:
                    break
                assert job["state"] in ("queued", "running") and time.time() < deadline, job
                time.sleep(0.05)
            kill_hard(proc)
    answered_before = int(job["progress"] * n)  # progress lags the work: at least this many were answered and cached

    with server(home, tmp_path / "e2.log") as (proc, url):
        with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
            interrupted = c.get(job_url).json()
            assert interrupted["state"] == "interrupted" and interrupted["error"]["code"] == "interrupted", interrupted
            ev = c.get(f"/v1/evals/{eval_id}").json()
            assert ev["state"] == "interrupted" and ev["report_url"] is None, ev
            assert eval_id in {e["id"] for e in c.get(f"/v1/collections/{COLLECTION}/evals").json()["evals"] if e["state"] == "interrupted"}

            runs = []
            for _ in range(2):  # the resumed run, then one wholly from the cache
                again = c.post(f"/v1/collections/{COLLECTION}/evals", files={"evalset": ("set.jsonl", evalset(n))}, data=form)
                assert again.status_code == 202, again.text
                done = wait_job(c, again.json()["url"], timeout=600)
                assert done["state"] == "succeeded", done
                runs.append(done["result"])
    resumed, cached = runs
    assert answered_before <= resumed["cached_answers"] < n, (answered_before, resumed["cached_answers"])
    assert cached["cached_answers"] == n
    assert resumed["methods"]["rag"]["n"] == n
    drop = {"latency_p50_ms", "latency_p95_ms"}  # timings are of the answering run, the rest is the same answers scored
    assert {k: v for k, v in resumed["methods"]["rag"].items() if k not in drop} == {k: v for k, v in cached["methods"]["rag"].items() if k not in drop}
    print(f"\nfaults eval: {n} questions, killed at progress {job['progress']:.2f}; resumed with {resumed['cached_answers']} answers from the cache")


# -- found by the soak (benchmarks/soak.py): forked parser processes held the server's sockets ----


def tcp_socket_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                inodes.update(line.split()[9] for line in f)
        except OSError:
            pass
    return inodes


def tcp_sockets_held(pid: int) -> int:
    """How many TCP sockets a process holds open."""
    tcp = tcp_socket_inodes()
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in tcp:
            held += 1
    return held


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (forked from any of its threads)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if entry.isdigit() and int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="reads /proc")
def test_connections_closed_by_the_server_reach_the_client_after_the_parser_processes_fork(tmp_path: Path, fakes):
    """The parser processes are forked by the first upload, mid-serving. They used to inherit the
    listening socket and every open connection, so a connection the server closed (a keep-alive
    that idled out, the one a 500 went out on) stayed open: no FIN, and the client's next request
    on it waited for its own timeout (seen in the soak as requests stuck for 120 s)."""
    import socket

    home = tmp_path / "home"
    key = seed_home(home, tmp_path / "corpus", {COLLECTION: TINY_CORPUS})
    with server(home, tmp_path / "s.log") as (proc, url):
        port = int(url.rsplit(":", 1)[1])
        idle = socket.create_connection(("127.0.0.1", port), timeout=30)  # open when the workers fork
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):  # the whole response: its body is `{"status":"ok"}`
            answer += idle.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
            r = upload(c, [("new-note.txt", b"The Heron 3 sander weighs 2.1 kg.")])
            assert r.status_code == 200 and r.json()["added"] == 1, r.text
        workers = children(proc.pid)
        assert workers, "the upload started no parser process"
        assert [tcp_sockets_held(w) for w in workers] == [0] * len(workers)
        started = time.monotonic()
        assert idle.recv(4096) == b""  # the server's keep-alive timeout (5 s) closes it, and the client sees it
        assert time.monotonic() - started < 25
        idle.close()


def test_a_500_tells_the_client_the_connection_closes(app_home):
    """After an unexpected error the server drops the connection its 500 went out on (the error goes
    on up to uvicorn); without `Connection: close` a pooled client sent its next request down it and
    lost that one too: in the soak, before the BM25 race was fixed, 645 500s cost about 200 more
    requests that failed without an answer."""
    from service.app import create_app
    from tests.service.conftest import fast_settings, wait_ready
    from fastapi.testclient import TestClient

    home, key = app_home
    app = create_app(fast_settings(home))

    def broken():
        raise RuntimeError("a bug")

    app.router.add_api_route("/v1/broken", broken, methods=["GET"])
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}, raise_server_exceptions=False) as client:
        wait_ready(client)
        r = client.get("/v1/broken")
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal", r.text
        assert "request id" in r.json()["error"]["message"] and "a bug" not in r.text
        assert r.headers["connection"] == "close"
        assert client.get("/v1/collections").status_code == 200


# -- the soak, short (benchmarks/soak.py) ---------------------------------------------------------


SOAK_KEYS = {"requests", "errors", "qps", "p50_ms", "p99_ms", "rss_mb", "rss_change_pct", "rss_change_after_warmup_pct", "writes", "samples", "server_log_errors"}


@pytest.mark.slow
def test_soak_30_s_at_8_clients_with_writes_has_no_errors_and_reports_memory(tmp_path: Path):
    from tests.conftest import load_benchmark, write_corpus

    soak = load_benchmark("soak")
    result = soak.soak([write_corpus(tmp_path / "corpus")], seconds=30, clients=8, keep=5, sample_s=3, fakes=True)
    assert SOAK_KEYS <= set(result), set(result)
    assert set(result["rss_mb"]) >= {"first", "last", "max"} and all(isinstance(result["rss_mb"][k], float) for k in ("first", "last", "max"))
    assert len(result["samples"]) >= 5 and result["server_alive_at_end"]
    assert result["writes"]["uploads"] > 0 and result["writes"]["deletes"] > 0, result["writes"]
    assert result["requests"] > 0 and result["queries"]["requests"] > 0
    assert result["errors"] == 0, {k: result[k] for k in ("errors", "queries", "writes", "server_log_errors")}
    assert result["server_log_errors"] == {}, result["server_log_errors"]
