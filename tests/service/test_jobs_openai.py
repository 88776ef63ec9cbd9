"""Evals and fine-tunes as jobs, and the OpenAI-compatible endpoint through the official `openai` client."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.service.conftest import LiveServer
from tests.service.test_api import assert_error, wait_job

EVALSET = [
    {"id": "q1", "question": "How much current does the Osprey 4 draw at full load?", "answer": "2.8 A", "source": "osprey-4-manual.md", "kind": "lookup"},
    {"id": "q2", "question": "Who do unresolved tickets escalate to?", "answer": "Marta Quintela", "source": "support.md", "kind": "lookup"},
    {"id": "q3", "question": "What is the CEO's favourite colour?", "answer": "UNANSWERABLE", "kind": "unanswerable"},
]


def evalset_bytes(rows=EVALSET) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_eval_job_writes_a_report_and_resubmitting_resumes_from_cache(live_server: LiveServer):
    form = {"methods": "closed-book,rag"}
    with live_server.client(live_server.write_key) as c:
        r = c.post("/v1/collections/docs/evals", files={"evalset": ("set.jsonl", evalset_bytes())}, data=form)
        assert r.status_code == 202, r.text
        first = wait_job(c, r.json()["url"])
        assert first["state"] == "succeeded", first
        ev = c.get(f"/v1/evals/{r.json()['id']}").json()
        assert ev["methods"] == ["closed-book", "rag"] and ev["report_url"] == f"/v1/evals/{ev['id']}/report.html"
        summary = ev["result"]["methods"]
        assert set(summary) == {"closed-book", "rag"} and summary["rag"]["n"] == 3
        report = c.get(ev["report_url"])
        assert report.status_code == 200 and "<svg" in report.text
        listed = c.get("/v1/collections/docs/evals").json()["evals"]
        assert ev["id"] in {e["id"] for e in listed}
        again = c.post("/v1/collections/docs/evals", files={"evalset": ("set.jsonl", evalset_bytes())}, data=form)
        second = wait_job(c, again.json()["url"])
        assert second["result"]["cached_answers"] == 6
        assert second["result"]["methods"]["rag"]["accuracy"] == first["result"]["methods"]["rag"]["accuracy"]
    with live_server.client(live_server.other_key) as c:
        assert_error(c.get(f"/v1/evals/{ev['id']}"), 404, "eval_not_found")
        assert_error(c.get(ev["report_url"]), 404)


def test_eval_submission_is_checked_before_the_job(live_server: LiveServer):
    with live_server.client(live_server.write_key) as c:
        bad = b'{"id": "a", "question": "q", "answer": "x"}\n{"id": "a", "question": "q2", "answer": "y"}\n'
        err = assert_error(c.post("/v1/collections/docs/evals", files={"evalset": ("set.jsonl", bad)}), 422, "invalid_evalset")
        assert err["message"].startswith("set.jsonl line 2: duplicate id")
        assert_error(c.post("/v1/collections/docs/evals", files={"evalset": ("s.jsonl", evalset_bytes())}, data={"methods": "nope"}), 400)
        assert_error(c.post("/v1/collections/docs/evals", data={"methods": "rag"}), 400, "invalid_upload")
    with live_server.client(live_server.read_key) as c:
        assert_error(c.post("/v1/collections/docs/evals", files={"evalset": ("s.jsonl", evalset_bytes())}), 403)


def test_finetune_job_keeps_the_server_responsive(live_server: LiveServer):
    with live_server.client(live_server.write_key) as c:
        r = c.post("/v1/collections/docs/adapters", json={"name": "tiny", "steps": 2})
        assert r.status_code == 202, r.text
        url = r.json()["url"]
        # while the adapter trains, liveness and retrieval answer (they do not queue behind it)
        answered_while_running = 0
        for _ in range(600):
            job = c.get(url).json()
            if job["state"] not in ("queued", "running"):
                break
            if job["state"] == "running":
                assert httpx.get(f"{live_server.url}/healthz", timeout=10).status_code == 200
                assert c.post("/v1/collections/docs/query", json={"query": "warranty", "k": 1}, timeout=30).status_code == 200
                answered_while_running += 1
            time.sleep(0.5)
        assert job["state"] == "succeeded", job
        assert answered_while_running > 0
        assert job["result"]["adapter"] == "tiny" and job["result"]["steps"] == 2
        adapters = c.get("/v1/collections/docs/adapters").json()["adapters"]
        assert "tiny" in {a["name"] for a in adapters}


def test_openai_client_lists_models_and_streams_an_answer(live_server: LiveServer):
    from openai import NotFoundError, OpenAI

    client = OpenAI(base_url=f"{live_server.url}/v1", api_key=live_server.read_key, timeout=300, max_retries=0)
    ids = {m.id for m in client.models.list()}
    assert {"ragkit/docs/rag", "ragkit/docs/closed-book", "ragkit/docs/long-context"} <= ids
    assert not any(i.startswith("ragkit/other/") for i in ids)

    question = "How much current does the Osprey 4 draw at full load?"
    full = client.chat.completions.create(model="ragkit/docs/rag", messages=[{"role": "user", "content": question}])
    assert full.choices[0].message.content and full.usage.prompt_tokens > 0
    assert full.model_extra["ragkit"]["citations"]

    pieces, extra, usage = [], None, None
    stream = client.chat.completions.create(model="ragkit/docs/rag", messages=[{"role": "user", "content": question}], stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.model_extra.get("ragkit"):
            extra = chunk.model_extra["ragkit"]
        if chunk.usage:
            usage = chunk.usage
    assert "".join(pieces) == full.choices[0].message.content  # deterministic decoding: the same answer
    assert extra and extra["method"] == "rag" and extra["citations"]
    assert usage and usage.completion_tokens > 0

    with pytest.raises(NotFoundError):
        client.chat.completions.create(model="ragkit/other/rag", messages=[{"role": "user", "content": question}])
    with pytest.raises(NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": question}])
