"""Every route against a real uvicorn server on 127.0.0.1: auth, documents, answers, jobs, operations."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile

import httpx

from tests.service.conftest import LiveServer

ANSWER_KEYS = {"method", "answer", "abstained", "citations", "usage", "latency_ms", "details"}


def wait_job(client: httpx.Client, url: str, timeout: float = 600) -> dict:
    deadline = time.time() + timeout
    seen_states = set()
    while time.time() < deadline:
        job = client.get(url).json()
        seen_states.add(job["state"])
        if job["state"] in ("succeeded", "failed", "interrupted"):
            job["seen_states"] = seen_states
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {url} did not finish: {job}")


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


# -- operations -------------------------------------------------------------------------------


def test_health_readiness_and_openapi_are_public(live_server: LiveServer):
    with live_server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        spec = c.get("/openapi.json").json()
        assert "/v1/collections/{c}/query" in spec["paths"] and "/v1/chat/completions" in spec["paths"]
        assert c.get("/docs").status_code == 200
        page = c.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_metrics_count_requests_by_route(live_server: LiveServer):
    with live_server.client(live_server.read_key) as c:
        c.post("/v1/collections/docs/query", json={"query": "warranty"})
        text = c.get("/metrics").text
    assert 'ragkit_http_requests_total{method="POST",route="/v1/collections/{c}/query",status="200"}' in text
    assert "ragkit_http_request_seconds_bucket" in text
    assert "ragkit_ingest_documents_total" in text or "ragkit_ingest_documents" in text


def test_request_id_is_echoed_and_logged(live_server: LiveServer):
    with live_server.client() as c:
        r = c.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"
    time.sleep(0.2)
    lines = [json.loads(line) for line in live_server.log.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == "trace-42" and line.get("path") == "/healthz" for line in lines)


# -- auth -------------------------------------------------------------------------------------


def test_no_key_and_bad_key_get_401(live_server: LiveServer):
    with live_server.client() as c:
        r = c.get("/v1/collections")
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
    for bad in ("nonsense", "rk_000000000000_wrong", live_server.read_key + "x"):
        with live_server.client(bad) as c:
            assert_error(c.get("/v1/collections/docs/documents"), 401)


def test_revoked_key_is_refused_at_once(live_server: LiveServer):
    made = subprocess.run(
        [sys.executable, "-m", "ragkit.cli", "keys", "create", "--collections", "docs", "--home", str(live_server.home), "--json"], capture_output=True, text=True, check=True
    )
    key = json.loads(made.stdout)
    with live_server.client(key["key"]) as c:
        assert c.get("/v1/collections").status_code == 200
        subprocess.run([sys.executable, "-m", "ragkit.cli", "keys", "revoke", key["id"], "--home", str(live_server.home)], check=True, capture_output=True)
        assert_error(c.get("/v1/collections"), 401)
    listed = subprocess.run([sys.executable, "-m", "ragkit.cli", "keys", "list", "--home", str(live_server.home), "--json"], capture_output=True, text=True, check=True)
    rows = {k["id"]: k for k in json.loads(listed.stdout)["keys"]}
    assert rows[key["id"]]["revoked"] is True
    assert key["key"] not in listed.stdout


def test_listing_shows_only_permitted_collections(live_server: LiveServer):
    def names(key):
        with live_server.client(key) as c:
            return {col["name"] for col in c.get("/v1/collections").json()["collections"]}

    assert names(live_server.admin_key) >= {"docs", "other"}
    assert names(live_server.read_key) == {"docs"}
    assert names(live_server.other_key) == {"other"}


def test_key_for_one_collection_gets_404_on_another(live_server: LiveServer):
    with live_server.client(live_server.other_key) as c:
        for r in (
            c.get("/v1/collections/docs/documents"),
            c.post("/v1/collections/docs/query", json={"query": "warranty"}),
            c.post("/v1/collections/docs/answer", json={"question": "How long is the warranty?"}),
            c.get("/v1/collections/docs/chunks/anything"),
            c.delete("/v1/collections/docs/documents/whatever"),
            c.post("/v1/collections/docs/documents", files={"files": ("a.txt", b"x")}),
            c.get("/v1/collections/docs/evals"),
            c.get("/v1/collections/docs/adapters"),
        ):
            err = assert_error(r, 404, "collection_not_found")
        # the same answer as for a collection that does not exist
        assert err["message"] == assert_error(c.get("/v1/collections/nope-nope/documents"), 404)["message"].replace("nope-nope", "docs")


def test_read_key_cannot_write(live_server: LiveServer):
    with live_server.client(live_server.read_key) as c:
        assert_error(c.post("/v1/collections/docs/documents", files={"files": ("a.txt", b"hello")}), 403, "forbidden")
        doc = c.get("/v1/collections/docs/documents").json()["documents"][0]
        assert_error(c.delete(f"/v1/collections/docs/documents/{doc['doc_id']}"), 403)
        assert_error(c.post("/v1/collections/docs/adapters", json={"steps": 1}), 403)
        assert_error(c.post("/v1/collections", json={"name": "mine"}), 403)
        # a key with a right on a collection but no admin scope gets 403 there, not 404
        assert_error(c.delete("/v1/collections/docs"), 403)


def test_admin_creates_and_deletes_collections(live_server: LiveServer):
    with live_server.client(live_server.admin_key) as c:
        r = c.post("/v1/collections", json={"name": "scratch-col"})
        assert r.status_code == 201 and r.json() == {"name": "scratch-col", "documents": 0, "chunks": 0, "revision": 0}
        assert_error(c.post("/v1/collections", json={"name": "scratch-col"}), 409)
        assert_error(c.post("/v1/collections", json={"name": "Bad Name!"}), 400, "invalid_collection")
        assert c.delete("/v1/collections/scratch-col").status_code == 200
        assert_error(c.delete("/v1/collections/scratch-col"), 404)


# -- documents --------------------------------------------------------------------------------


def zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.txt", b"0" * (80 * 1024 * 1024))
    return buf.getvalue()


def test_upload_reports_per_file_and_survives_hostile_files(live_server: LiveServer):
    files = [
        ("files", ("kingfisher.md", b"# Kingfisher 3\n\nThe Kingfisher 3 planer cuts 2.5 mm per pass.\n")),
        ("files", ("broken.pdf", b"%PDF-1.7\n\x00\x01 not really a pdf")),
        ("files", ("empty.txt", b"")),
        ("files", ("tool.exe", b"MZ\x90\x00")),
        ("files", ("bomb.zip", zip_bomb())),
        ("files", ("bad.docx", b"PK\x03\x04 truncated")),
        ("files", ("../../escape.txt", b"The escape hatch opens inward.")),
    ]
    with live_server.client(live_server.write_key) as c:
        before = c.get("/v1/collections").json()["collections"][0]["revision"]
        r = c.post("/v1/collections/docs/documents", files=files)
        assert r.status_code == 200, r.text
        report = r.json()
        assert {"collection", "files_seen", "added", "updated", "unchanged", "deleted", "skipped", "failed", "warnings", "chunks_added", "chunks_deleted", "seconds"} <= set(report)
        failed = {f["source"] for f in report["failed"]} | {s["source"] for s in report["skipped"]}
        assert {"broken.pdf", "tool.exe", "bad.docx"} <= failed
        assert report["added"] >= 2  # kingfisher.md and escape.txt (stored under its base name)
        assert c.get("/healthz").status_code == 200
        docs = {d["source"]: d for d in c.get("/v1/collections/docs/documents").json()["documents"]}
        assert "kingfisher.md" in docs and "escape.txt" in docs and docs["kingfisher.md"]["root"] == "upload"
        hits = c.post("/v1/collections/docs/query", json={"query": "Kingfisher planer cut per pass", "k": 3}).json()["hits"]
        assert hits[0]["source"] == "kingfisher.md"
        chunk = c.get(f"/v1/collections/docs/chunks/{hits[0]['chunk_id']}").json()
        assert "2.5 mm" in chunk["text"] and chunk["source"] == "kingfisher.md"
        assert_error(c.get("/v1/collections/docs/chunks/no-such-chunk"), 404, "chunk_not_found")
        # the same upload again changes nothing
        again = c.post("/v1/collections/docs/documents", files=files[:1]).json()
        assert again["unchanged"] == 1 and again["added"] == 0
        deleted = c.delete(f"/v1/collections/docs/documents/{docs['escape.txt']['doc_id']}").json()["deleted"]
        assert deleted["source"] == "escape.txt"
        assert_error(c.delete(f"/v1/collections/docs/documents/{docs['escape.txt']['doc_id']}"), 404, "document_not_found")
        after = c.get("/v1/collections").json()["collections"][0]["revision"]
        assert after > before


def test_upload_without_files_or_with_too_many(live_server: LiveServer):
    with live_server.client(live_server.write_key) as c:
        assert_error(c.post("/v1/collections/docs/documents", data={"x": "1"}), 400, "invalid_upload")
        many = [("files", (f"n{i}.txt", b"note")) for i in range(31)]  # the server allows 30 (RAGKIT_MAX_UPLOAD_FILES)
        assert_error(c.post("/v1/collections/docs/documents", files=many), 413, "too_large")
        assert_error(c.post("/v1/collections/docs/query", content=b"{not json", headers={"content-type": "application/json"}), 422, "invalid_request")
        assert_error(c.get("/v1/no/such/route"), 404)


def test_large_upload_becomes_a_job_visible_only_to_its_collection(live_server: LiveServer):
    many = [("files", (f"note-{i:02d}.txt", f"Bench note {i}: the torque of model T{i} is {10 + i} Nm.".encode())) for i in range(22)]
    with live_server.client(live_server.write_key) as c:
        r = c.post("/v1/collections/docs/documents", files=many)
        assert r.status_code == 202, r.text
        accepted = r.json()
        assert set(accepted) == {"id", "state", "url"} and accepted["url"] == f"/v1/jobs/{accepted['id']}"
        job = wait_job(c, accepted["url"])
    assert job["state"] == "succeeded", job
    assert job["kind"] == "ingest" and job["progress"] == 1.0 and job["result"]["added"] == 22
    assert {"id", "kind", "state", "progress", "result", "error"} <= set(job)
    with live_server.client(live_server.other_key) as c:
        assert_error(c.get(accepted["url"]), 404, "job_not_found")
    with live_server.client(live_server.admin_key) as c:
        assert c.get(accepted["url"]).status_code == 200
        assert_error(c.get("/v1/jobs/ingest-doesnotexist"), 404)


def test_cli_ingest_while_the_server_runs_says_what_to_do(live_server: LiveServer, tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    r = subprocess.run([sys.executable, "-m", "ragkit.cli", "ingest", str(tmp_path), "-c", "docs", "--home", str(live_server.home), "--json"], capture_output=True, text=True)
    assert r.returncode == 1
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "home_locked" and "upload files through its API" in err["message"] and str(live_server.pid) in err["message"]


# -- answers ----------------------------------------------------------------------------------


def test_query_answer_compare_return_the_cli_json(live_server: LiveServer):
    with live_server.client(live_server.read_key) as c:
        q = c.post("/v1/collections/docs/query", json={"query": "support desk hours", "k": 2, "mode": "bm25"}).json()
        assert len(q["hits"]) == 2 and {"rank", "score", "doc_id", "source", "chunk_id", "text", "metadata"} <= set(q["hits"][0])
        filtered = c.post("/v1/collections/docs/query", json={"query": "hours", "where": {"source": "support.md"}}).json()["hits"]
        assert filtered and {h["source"] for h in filtered} == {"support.md"}
        a = c.post("/v1/collections/docs/answer", json={"question": "How much current does the Osprey 4 draw at full load?"}).json()
        assert set(a) >= ANSWER_KEYS and a["method"] == "rag" and a["citations"]
        assert {"prompt_tokens", "completion_tokens"} <= set(a["usage"])
        cmp = c.post("/v1/collections/docs/compare", json={"question": "Who handles escalations?", "methods": ["closed-book", "rag", "lora"]}).json()
        by_method = {r["method"]: r for r in cmp["results"]}
        assert set(by_method) == {"closed-book", "rag", "lora"}
        assert set(by_method["rag"]) >= ANSWER_KEYS
        assert by_method["lora"]["error"]["code"] == "adapter_not_found"
        assert_error(c.post("/v1/collections/docs/answer", json={"question": "x", "method": "telepathy"}), 400)
        assert_error(c.post("/v1/collections/docs/answer", json={"question": ""}), 422)


def test_deleting_a_collection_takes_its_adapters_and_eval_answers_with_it(live_server: LiveServer, tmp_path):
    from ragkit.evaluation.cache import AnswerCache
    from ragkit.storage.home import HomeLayout

    layout = HomeLayout(live_server.home)
    with live_server.client(live_server.admin_key) as c:
        assert c.post("/v1/collections", json={"name": "doomed"}).status_code == 201
        c.post("/v1/collections/doomed/documents", files={"files": ("a.txt", b"Doomed facts: the vault code is 4471.")})
        evalset = b'{"id": "v", "question": "What is the vault code?", "answer": "4471"}\n'
        job = c.post("/v1/collections/doomed/evals", files={"evalset": ("v.jsonl", evalset)}, data={"methods": "closed-book"}).json()
        assert wait_job(c, job["url"])["state"] == "succeeded"
        assert (layout.job_files / job["id"] / "report.html").exists()
        (layout.adapters("doomed") / "old").mkdir(parents=True)
        cache = AnswerCache(layout.eval_cache)
        cache.put("k-doomed", "doomed", 1, {"answer": "4471"})
        assert c.delete("/v1/collections/doomed").status_code == 200
        assert cache.get("k-doomed") is None
        cache.close()
        assert not layout.adapters("doomed").exists()
        assert not (layout.job_files / job["id"]).exists()
        assert_error(c.get(job["url"]), 404)
        # a new collection of the same name starts empty
        assert c.post("/v1/collections", json={"name": "doomed"}).json()["documents"] == 0
        assert c.delete("/v1/collections/doomed").status_code == 200
