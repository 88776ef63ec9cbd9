"""Hostile requests and failing parts against the real app: bad rows at start, bodies past their
limits (chunked too), unauthenticated bodies, odd upload names, bad eval sets, staged files, and
generators that raise or die mid-request. In process (TestClient) where the test needs the
app's state, on a real `ragkit serve` where it needs a real socket."""

from __future__ import annotations

import json
import select
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ragkit.plugins import GENERATORS
from ragkit.storage.home import HomeLayout
from ragkit.testing import FakeGenerator
from tests.conftest import free_port, loopback_server, port_open
from tests.service.conftest import FAST_ENV, fast_settings, ready, running_app, seed_home, serve_command, wait_ready
from tests.service.test_api import assert_error

HERE = Path(__file__).resolve().parent


def staged_files(home: Path) -> list[Path]:
    root = HomeLayout(home).job_files / "incoming"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"ragkitXboundary") -> tuple[bytes, dict]:
    """A multipart body written by hand, so a file name can hold raw bytes (httpx percent-escapes control characters)."""
    body = b""
    for filename, data in parts:
        body += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="files"; filename="' + filename + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data + b"\r\n"
    return body + b"--" + boundary + b"--\r\n", {"content-type": f"multipart/form-data; boundary={boundary.decode()}"}


# -- 1. a bad row never keeps the service from ready ------------------------------------------


def test_bad_rows_are_skipped_at_warm_up_and_the_service_becomes_ready(app_home):
    home, key = app_home
    db = sqlite3.connect(HomeLayout(home).manifest)
    with db:
        # a name stored before the name rule was whole (fullmatch), and a collection whose index side is broken
        db.execute("INSERT INTO collections(name, revision, created_at) VALUES ('Bad Name!', 1, '2024-01-01T00:00:00Z')")
        db.execute("INSERT INTO collections(name, revision, created_at) VALUES ('broken', 1, '2024-01-01T00:00:00Z')")
        db.execute("INSERT INTO pending(collection, doc_id, chunk_ids) VALUES ('broken', 'd1', '{not json')")
    db.close()
    with running_app(fast_settings(home), key) as client:
        body = wait_ready(client)
        assert body["ready"] is True and body["collections_skipped"] == 2 and "error" not in body
        names = {c["name"] for c in client.get("/v1/collections").json()["collections"]}
        assert {"docs", "broken", "Bad Name!"} <= names
        models = client.get("/v1/models")
        assert models.status_code == 200, models.text
        assert "ragkit/docs/rag" in {m["id"] for m in models.json()["data"]}
        hits = client.post("/v1/collections/docs/query", json={"query": "warranty months"}).json()["hits"]
        assert hits and hits[0]["source"] == "osprey-4-manual.md"
        assert_error(client.get("/v1/collections/Bad%20Name!/documents"), 400, "invalid_collection")


def test_a_json_body_nested_too_deeply_is_refused_saying_why(app_home):
    home, key = app_home
    with running_app(fast_settings(home), key) as client:
        wait_ready(client)
        nested = b"[" * 100_000 + b"]" * 100_000  # 200 KB, under the limit: Python's JSON parser recurses out
        err = assert_error(client.post("/v1/collections/docs/query", content=nested, headers={"content-type": "application/json"}), 400, "invalid_request")
        assert "nested too deeply" in err["message"]
        assert client.post("/v1/collections/docs/query", json={"query": "warranty"}).status_code == 200


# -- 2. eval sets that are not text, staged files ---------------------------------------------


def test_an_eval_set_that_is_not_utf8_or_holds_a_lone_surrogate_is_refused_naming_file_and_line(app_home):
    home, key = app_home
    good = b'{"id": "q1", "question": "How long is the warranty?", "answer": "36 months"}\n'
    with running_app(fast_settings(home), key) as client:
        wait_ready(client)
        latin1 = good + '{"id": "q2", "question": "Quel est le caf\u00e9 ?", "answer": "noir"}\n'.encode("latin-1")
        err = assert_error(client.post("/v1/collections/docs/evals", files={"evalset": ("latin.jsonl", latin1)}), 422, "invalid_evalset")
        assert err["message"].startswith("latin.jsonl line 2: not UTF-8 text"), err
        surrogate = good + b'{"id": "q2", "question": "broken \\ud800 text", "answer": "x"}\n'
        err = assert_error(client.post("/v1/collections/docs/evals", files={"evalset": ("lone.jsonl", surrogate)}), 422, "invalid_evalset")
        assert err["message"].startswith("lone.jsonl line 2: question") and "surrogate" in err["message"], err
        assert staged_files(home) == []
        assert client.get("/v1/collections/docs/evals").json()["evals"] == []


def test_an_eval_set_over_20_mb_gets_413_before_it_is_read(app_home):
    from service.limits import FORM_OVERHEAD_BYTES, MAX_EVALSET_BYTES

    home, key = app_home
    with running_app(fast_settings(home), key) as client:
        wait_ready(client)
        line = b'{"id": "a", "question": "q", "answer": "x"}\n'
        big = line * (MAX_EVALSET_BYTES // len(line) + 2000)
        err = assert_error(client.post("/v1/collections/docs/evals", files={"evalset": ("big.jsonl", big)}), 413, "too_large")
        assert err["message"].startswith("the eval set upload is ") and str(MAX_EVALSET_BYTES + FORM_OVERHEAD_BYTES) in err["message"], err
        assert staged_files(home) == []


def test_staged_files_are_swept_at_start_kept_for_a_waiting_job_and_dropped_with_their_collection(app_home):
    home, key = app_home
    leftover = HomeLayout(home).job_files / "incoming" / "docs" / "0123456789abcdef" / "00000"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"private text staged by a server that was killed")
    with running_app(fast_settings(home), key) as client:
        wait_ready(client)
        assert staged_files(home) == []  # swept at start
        # hold the one job worker, so the upload's job waits with its files staged
        st = client.app.state.ragkit
        release = threading.Event()
        st.jobs.submit("hold", "docs", {}, lambda _id, progress: release.wait(60))
        many = [("files", (f"note-{i:02d}.txt", f"Note {i}: part T{i} weighs {i} kg.".encode())) for i in range(22)]
        r = client.post("/v1/collections/docs/documents", files=many)
        assert r.status_code == 202, r.text
        staged = staged_files(home)
        assert len(staged) == 22 and all(p.parent.parent.name == "docs" for p in staged)
        assert staged[0].read_bytes() == b"Note 0: part T0 weighs 0 kg."
        assert client.delete("/v1/collections/docs").status_code == 200
        assert staged_files(home) == []  # the collection's staged uploads went with it
        release.set()
        deadline = time.time() + 60
        while (job := client.get(r.json()["url"]).json())["state"] in ("queued", "running"):
            assert time.time() < deadline
            time.sleep(0.1)
        assert job["state"] == "failed" and job["error"]["code"] == "collection_not_found", job


def test_a_large_upload_job_ingests_its_staged_files_and_removes_them(app_home):
    home, key = app_home
    with running_app(fast_settings(home), key) as client:
        wait_ready(client)
        many = [("files", (f"note-{i:02d}.txt", f"Note {i}: part T{i} weighs {i} kg.".encode())) for i in range(21)]
        many.append(("files", (".env", b"SECRET=1")))
        r = client.post("/v1/collections/docs/documents", files=many)
        assert r.status_code == 202, r.text
        deadline = time.time() + 120
        while (job := client.get(r.json()["url"]).json())["state"] in ("queued", "running"):
            assert time.time() < deadline
            time.sleep(0.1)
        assert job["state"] == "succeeded", job
        assert job["result"]["added"] == 21 and [w["source"] for w in job["result"]["warnings"]] == [".env"]
        assert staged_files(home) == []


# -- 5. upload names: the folder rule for hidden files, unprintable names refused -------------


def test_hidden_uploads_are_left_out_as_folder_ingest_leaves_them_out(app_home):
    home, key = app_home
    with running_app(fast_settings(home), key) as client:
        wait_ready(client)
        files = [
            ("files", ("kingfisher.md", b"# Kingfisher 3\n\nThe Kingfisher 3 planer cuts 2.5 mm per pass.\n")),
            ("files", (".env", b"API_TOKEN=hunter2")),
            ("files", (".git/config", b"[remote] url = secret")),
        ]
        r = client.post("/v1/collections/docs/documents", files=files)
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["added"] == 1 and report["files_seen"] == 1
        assert {w["source"] for w in report["warnings"]} == {".env", ".git/config"}
        assert all("hidden" in w["message"] for w in report["warnings"])
        sources = {d["source"] for d in client.get("/v1/collections/docs/documents").json()["documents"]}
        assert "kingfisher.md" in sources and ".env" not in sources and "config" not in sources


@pytest.mark.parametrize(
    "raw, shown",
    [(b"nul\x00name.txt", "nul\\x00name.txt"), (b"new\nline.txt", "new\\nline.txt"), (b"invoice\xe2\x80\xaetxt.exe", "invoice\\u202etxt.exe"), (b"tab\tname.md", "tab\\tname.md")],
)
def test_an_upload_name_with_an_unprintable_character_is_refused_naming_the_file(app_home, raw, shown):
    home, key = app_home
    with running_app(fast_settings(home), key) as client:
        wait_ready(client)
        before = client.get("/v1/collections").json()["collections"]
        body, headers = multipart([(b"fine.txt", b"A fine file."), (raw, b"Whatever it says.")])
        err = assert_error(client.post("/v1/collections/docs/documents", content=body, headers=headers), 422, "invalid_file_name")
        assert shown in err["message"] and "unprintable" in err["message"], err
        assert client.get("/v1/collections").json()["collections"] == before  # nothing of the request was ingested


# -- 9. sync or job by expected work -----------------------------------------------------------


def make_pdf(pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    for i in range(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 5, f"Page {i + 1}. " + "The Osprey 4 drill draws 2.8 A at full load. " * 40)
    return bytes(pdf.output())


def finish(client, url: str) -> dict:
    deadline = time.time() + 120
    while (job := client.get(url).json())["state"] in ("queued", "running"):
        assert time.time() < deadline, job
        time.sleep(0.1)
    return job


def test_an_upload_becomes_a_job_by_its_expected_work_not_only_by_its_file_count(app_home):
    from service.upload_plan import SYNC_BUDGET_S, pdf_pages

    home, key = app_home
    with running_app(fast_settings(home), key) as client:
        wait_ready(client)
        pace = client.app.state.ragkit.pace
        assert pace.probed  # measured at warm-up on this server's embedder
        short_pdf, long_pdf = make_pdf(8), make_pdf(60)
        assert (pdf_pages(short_pdf), pdf_pages(long_pdf)) == (8, 60)
        assert len(long_pdf) < 150_000  # compressed: by its bytes alone it would look like a few seconds of work

        def post(name: str, data: bytes) -> httpx.Response:
            pace.seconds_per_chunk = 0.05  # what a slow 2-core machine ingests at (measured: 0.04-0.17 s)
            return client.post("/v1/collections/docs/documents", files={"files": (name, data)})

        # one file each time, far under SPEC's 20 files and 50 MB
        for name, data in (("long.pdf", long_pdf), ("long.txt", b"The Heron 2 sander weighs 1.9 kg. " * 9000)):
            r = post(name, data)
            assert r.status_code == 202, (name, r.text)
            job = finish(client, r.json()["url"])
            assert job["state"] == "succeeded" and job["result"]["added"] == 1, job
        for name, data in (("short.pdf", short_pdf), ("short.txt", b"The Heron 2 sander weighs 1.9 kg. " * 100)):
            r = post(name, data)
            assert r.status_code == 200 and r.json()["added"] == 1, (name, r.text)
        assert SYNC_BUDGET_S <= 10


def test_the_work_estimate_reads_pdf_pages_and_zip_members_without_parsing_them():
    import io
    import zipfile

    from ragkit.settings import load_settings
    from service.upload_plan import BYTES_PER_CHUNK, chunk_equivalents, pdf_pages

    settings = load_settings(max_file_bytes=1_000_000)
    assert pdf_pages(make_pdf(3)) == 3 and pdf_pages(b"%PDF-1.7 not really") is None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.txt", b"0" * 5_000_000)  # over max_file_bytes: ingest skips it, so it costs nothing
        z.writestr("notes.txt", b"n" * 85_000)
    assert chunk_equivalents("bundle.zip", buf.getvalue(), settings) == 85_000 / BYTES_PER_CHUNK
    broken = b"PK\x03\x04 truncated"
    assert chunk_equivalents("broken.zip", broken, settings) == len(broken) / BYTES_PER_CHUNK  # by its bytes


# -- 10. a generator that raises or dies: 502 naming it, and the service stays up --------------


class FlakyGenerator(FakeGenerator):
    """The fake generator, until it is told to fail as a crashed backend would."""

    broken = True

    def generate(self, *args, **kwargs):
        if FlakyGenerator.broken:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return super().generate(*args, **kwargs)


@pytest.fixture
def flaky_generator():
    GENERATORS.register("flaky", lambda settings: FlakyGenerator())
    FlakyGenerator.broken = True
    yield
    GENERATORS.unregister("flaky")


def test_a_generator_that_raises_answers_502_naming_it_and_the_service_stays_up(app_home, flaky_generator):
    home, key = app_home
    with running_app(fast_settings(home, generator="flaky"), key) as client:
        wait_ready(client)
        question = {"question": "How long is the Osprey 4 warranty?"}
        err = assert_error(client.post("/v1/collections/docs/answer", json=question), 502, "generator_failed")
        assert "generator ('flaky')" in err["message"] and "stopped" in err["message"] and "CUDA error" in err["message"], err
        compared = client.post("/v1/collections/docs/compare", json={**question, "methods": ["closed-book", "rag"]})
        assert compared.status_code == 200, compared.text
        assert [r["error"]["code"] for r in compared.json()["results"]] == ["generator_failed", "generator_failed"]
        chat = {"model": "ragkit/docs/rag", "messages": [{"role": "user", "content": question["question"]}]}
        assert_error(client.post("/v1/chat/completions", json=chat), 502, "generator_failed")
        streamed = client.post("/v1/chat/completions", json={**chat, "stream": True})
        events = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
        assert events[-1]["error"]["code"] == "generator_failed", streamed.text
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
        FlakyGenerator.broken = False  # the generator is back: so is answering, without a restart
        answer = client.post("/v1/collections/docs/answer", json=question)
        assert answer.status_code == 200 and "36 months" in answer.json()["answer"], answer.text


@pytest.fixture
def crashing_generator():
    from tests.service import crashing_generator

    GENERATORS.register("crashing", crashing_generator.from_settings)
    yield crashing_generator
    GENERATORS.unregister("crashing")


def test_a_generator_that_segfaults_costs_one_answer_not_the_service(app_home, crashing_generator):
    """A native crash cannot be caught in process: the service runs the model in a child process."""
    import os
    import signal

    home, key = app_home
    question = {"question": "How long is the Osprey 4 warranty?"}
    with running_app(fast_settings(home, generator="crashing"), key) as client:
        wait_ready(client)
        answer = client.post("/v1/collections/docs/answer", json=question)
        assert answer.status_code == 200 and "36 months" in answer.json()["answer"], answer.text
        host = client.app.state.ragkit.kb._generator._inner
        first = host.pid
        assert first != os.getpid() and os.path.exists(f"/proc/{first}")  # the model runs in a child
        crash = {"question": f"How long is the warranty? ({crashing_generator.CRASH_WORD})"}
        err = assert_error(client.post("/v1/collections/docs/answer", json=crash), 502, "generator_stopped")
        assert "generator ('crashing')" in err["message"] and "SIGSEGV" in err["message"] and "stopped" in err["message"], err
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
        answer = client.post("/v1/collections/docs/answer", json=question)  # a fresh child answers
        assert answer.status_code == 200 and "36 months" in answer.json()["answer"], answer.text
        assert host.pid != first
        os.kill(host.pid, signal.SIGKILL)  # dead between requests: replaced without failing anyone
        host._proc.wait(timeout=10)
        answer = client.post("/v1/collections/docs/answer", json=question)
        assert answer.status_code == 200, answer.text
        last = host.pid
    assert not os.path.exists(f"/proc/{last}")  # stopped, and reaped, with the service


def test_llamacpp_answers_from_its_own_process_and_survives_its_death(app_home):
    """The real llama.cpp generator behind the service: in a child process, replaced when it dies."""
    import os
    import signal

    home, key = app_home
    question = {"question": "How long is the Osprey 4 warranty?", "method": "closed-book"}
    with running_app(fast_settings(home, generator="llamacpp"), key) as client:
        wait_ready(client)
        first = client.post("/v1/collections/docs/answer", json=question)
        assert first.status_code == 200 and first.json()["answer"], first.text
        host = client.app.state.ragkit.kb._generator._inner
        assert host.pid != os.getpid() and host.model_id
        os.kill(host.pid, signal.SIGSEGV)
        host._proc.wait(timeout=10)  # dead before the next request (a death during one is the test above)
        again = client.post("/v1/collections/docs/answer", json=question)
        assert again.status_code == 200 and again.json()["answer"] == first.json()["answer"], again.text


def test_the_generator_process_goes_with_a_killed_service(app_home, tmp_path, monkeypatch):
    """kill -9 of the service (after an upload forked parser processes) leaves no generator process behind."""
    import os
    import signal

    home, key = app_home
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    for name, value in {**FAST_ENV, "RAGKIT_GENERATOR": "llamacpp"}.items():
        monkeypatch.setenv(name, value)
    headers = {"Authorization": f"Bearer {key}"}
    with loopback_server(serve_command(home, port), tmp_path / "serve.log", ready(url), "ragkit serve") as server:
        answer = httpx.post(f"{url}/v1/collections/docs/answer", json={"question": "Warranty?", "method": "closed-book"}, headers=headers, timeout=120)
        assert answer.status_code == 200, answer.text
        children = {int(p) for t in os.listdir(f"/proc/{server.pid}/task") for p in open(f"/proc/{server.pid}/task/{t}/children").read().split()}
        generator = [p for p in children if "service.generator_host" in open(f"/proc/{p}/cmdline").read()]
        assert len(generator) == 1, children
        upload = httpx.post(f"{url}/v1/collections/docs/documents", files=[("files", ("late.md", b"# Late\n\nA document uploaded after the generator started.\n"))], headers=headers, timeout=120)
        assert upload.status_code in (200, 201, 202), upload.text
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        deadline = time.time() + 15
        while os.path.exists(f"/proc/{generator[0]}") and time.time() < deadline:
            time.sleep(0.2)
        assert not os.path.exists(f"/proc/{generator[0]}"), "the generator process outlived its service"


def test_a_generator_that_cannot_start_answers_500_naming_the_setting(app_home, tmp_path):
    home, key = app_home
    settings = fast_settings(home, generator="llamacpp", llm_path=tmp_path / "missing.gguf")
    with running_app(settings, key) as client:
        wait_ready(client)
        err = assert_error(client.post("/v1/collections/docs/answer", json={"question": "warranty?"}), 500, "invalid_setting")
        assert "missing.gguf" in err["message"], err
        assert client.get("/healthz").status_code == 200


def test_a_generator_server_killed_mid_request_answers_502_naming_it(app_home, tmp_path):
    home, key = app_home
    port = free_port()
    cmd = [sys.executable, str(HERE / "dying_llm_server.py"), str(port)]
    with loopback_server(cmd, tmp_path / "llm.log", lambda: port_open(port), "dying LLM server") as llm:
        settings = fast_settings(home, generator="openai", openai_base_url=f"http://127.0.0.1:{port}/v1", openai_model="tiny", openai_context_window=2048)
        with running_app(settings, key) as client:
            wait_ready(client)
            err = assert_error(client.post("/v1/collections/docs/answer", json={"question": "How long is the warranty?"}), 502, "generator_unreachable")
            assert llm.wait(timeout=10) == -9  # it really was killed while answering
            assert f"openai at http://127.0.0.1:{port}/v1" in err["message"] and "stopped" in err["message"], err
            assert client.get("/healthz").status_code == 200
            assert client.post("/v1/collections/docs/query", json={"query": "warranty"}).status_code == 200
    assert "chat completion received; dying" in (tmp_path / "llm.log").read_text()


# -- 3, 4. bodies: the key first, then no byte past the limit (a real server, raw sockets) ----

JSON_LIMIT = 64 * 1024
UPLOAD_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def small_limits_server(tmp_path_factory):
    """`ragkit serve` (fake models) with a 64 KiB JSON limit and a 1 MiB upload limit."""
    import os

    root = tmp_path_factory.mktemp("limits")
    home = root / "home"
    key = seed_home(home, root / "corpus")
    port = free_port()
    env = {**FAST_ENV, "RAGKIT_MAX_JSON_BYTES": str(JSON_LIMIT), "RAGKIT_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)}
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with loopback_server(serve_command(home, port), root / "server.log", ready(f"http://127.0.0.1:{port}"), "ragkit serve", timeout=120):
            yield port, key
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def raw_request(port: int, head: str, chunks=(), *, chunked: bool = True, timeout: float = 20) -> tuple[int, dict, int]:
    """Send a request head, then body chunks until the server answers (or they run out).

    Returns (status, JSON body, body bytes the client got to send before the answer came).
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(head.encode("latin-1"))
        sent = 0
        sock.settimeout(2)
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is here: stop, as a client reading its socket would
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(chunk)
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        sock.settimeout(timeout)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            assert piece, f"connection closed without an answer: {data!r}"
            data += piece
        head_bytes, _, rest = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
        return status, json.loads(rest[:length] or b"{}"), sent
    finally:
        sock.close()


def head(method: str, path: str, port: int, key: str | None, content_type: str, length: int | None = None) -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Type: {content_type}"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return "\r\n".join(lines) + "\r\n\r\n"


def endless(size: int = 64 * 1024, total: int = 256 * 1024 * 1024):
    block = b"x" * size
    for _ in range(total // size):
        yield block


def test_a_request_without_a_valid_key_is_refused_before_its_body_is_read(small_limits_server):
    port, key = small_limits_server
    # the body is announced but never sent: only a server that does not wait for it can answer
    for bad in (None, "rk_000000000000_wrong"):
        status, body, _ = raw_request(port, head("POST", "/v1/collections/docs/query", port, bad, "application/json", length=1000), timeout=10)
        assert status == 401 and body["error"]["code"] == "unauthorized", body
    status, body, sent = raw_request(port, head("POST", "/v1/collections/docs/documents", port, None, "multipart/form-data; boundary=b"), endless())
    assert status == 401 and sent < 64 * 1024 * 1024, (status, body, sent)


def test_a_json_body_over_the_limit_gets_413_naming_it_and_is_not_read_further(small_limits_server):
    port, key = small_limits_server
    path = "/v1/collections/docs/query"
    # announced too large: refused before reading
    status, body, _ = raw_request(port, head("POST", path, port, key, "application/json", length=JSON_LIMIT + 1), timeout=10)
    assert status == 413 and body["error"]["code"] == "too_large", body
    assert str(JSON_LIMIT) in body["error"]["message"] and "RAGKIT_MAX_JSON_BYTES" in body["error"]["message"]
    # chunked, without end: refused once the limit is passed, long before the 256 MiB are sent
    status, body, sent = raw_request(port, head("POST", path, port, key, "application/json"), endless())
    assert status == 413 and body["error"]["code"] == "too_large" and "RAGKIT_MAX_JSON_BYTES" in body["error"]["message"], body
    assert sent < 64 * 1024 * 1024, sent
    # a body under the limit is served as before, chunked or not
    query = json.dumps({"query": "warranty", "k": 1}).encode()
    status, body, _ = raw_request(port, head("POST", path, port, key, "application/json"), [query])
    assert status == 200 and body["hits"][0]["source"] == "osprey-4-manual.md", body
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.post(path, json={"query": "warranty " * 100}).status_code == 200
        assert_error(c.post(path, json={"query": "warranty " * 10000}), 413, "too_large")


def test_a_chunked_upload_over_the_limit_is_stopped_at_the_limit(small_limits_server):
    port, key = small_limits_server
    preamble = b'--b\r\nContent-Disposition: form-data; name="files"; filename="huge.txt"\r\nContent-Type: text/plain\r\n\r\n'

    def upload():
        yield preamble
        yield from endless()

    status, body, sent = raw_request(port, head("POST", "/v1/collections/docs/documents", port, key, "multipart/form-data; boundary=b"), upload())
    assert status == 413 and body["error"]["code"] == "too_large", body
    assert str(UPLOAD_LIMIT) in body["error"]["message"] and "RAGKIT_MAX_UPLOAD_BYTES" in body["error"]["message"]
    assert sent < 64 * 1024 * 1024, sent  # the server answered after about 1 MiB, not after reading all 256 MiB
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}) as c:
        ok = c.post("/v1/collections/docs/documents", files={"files": ("small.txt", b"The small file fits.")})
        assert ok.status_code == 200 and ok.json()["added"] == 1, ok.text
        assert_error(c.post("/v1/collections/docs/documents", files={"files": ("big.txt", b"y" * (UPLOAD_LIMIT + 1))}), 413, "too_large")

