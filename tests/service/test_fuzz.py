"""API fuzzing: schemathesis against a real `ragkit serve`'s own /openapi.json, as three kinds of caller.

Every operation the app documents is fuzzed with an admin key, a read key on `docs` and a write
key on `other`, with positive and negative data. Path parameters are drawn as schemathesis makes
them and also pinned to the real collections and to real chunk, document, job and eval ids, so
requests reach the routes' bodies and not only their 404s. Checks: no 5xx (schemathesis's
`not_a_server_error`), responses conform to the documented schema and content type, a 2xx is a
documented one, every error is `{"error": {"code", "message"}}`, and a key never gets a 2xx (or a
403 that would betray a name) on a collection it cannot see, nor a write with a read key.

Bounded: `MAX_EXAMPLES` per operation and kind of data, each request `REQUEST_TIMEOUT_S`, each
key's run `BUDGET_S` (RAGKIT_FUZZ_EXAMPLES and RAGKIT_FUZZ_BUDGET_S raise them for a longer
campaign; RAGKIT_FUZZ_REPORT names a JSON Lines file for the figures). The figures (operations,
requests, statuses, 5xx) are printed. The fuzzing is `slow`; the test at the end, of what it
found, runs in the default tier.
"""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.conftest import TINY_CORPUS, free_port, loopback_server
from tests.service.conftest import FAST_ENV, OTHER_CORPUS, ready, seed_home, serve_command
from tests.service.test_jobs_openai import evalset_bytes

MAX_EXAMPLES = int(os.environ.get("RAGKIT_FUZZ_EXAMPLES", "25"))  # per operation, per kind of data (positive, negative)
REQUEST_TIMEOUT_S = 30  # the deadline of one example
BUDGET_S = float(os.environ.get("RAGKIT_FUZZ_BUDGET_S", "150"))  # one key's whole run; what is left after it is not requested
KEYS = ("admin", "read", "other")
WRITES = {"POST", "DELETE", "PUT", "PATCH"}
READ_POSTS = ("/query", "/answer", "/compare")  # POSTs that only read
MODELS = ["ragkit/docs/rag", "ragkit/other/closed-book", "ragkit/docs/self-route", "ragkit/docs/long-context"]


@dataclass
class FuzzServer:
    url: str
    pid: int
    keys: dict[str, str]
    ids: dict[str, str]  # real ids to pin path parameters to
    home: Path
    log: Path


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory) -> FuzzServer:
    """A real `ragkit serve` on 127.0.0.1 (fake models) over `docs`, `other`, `empty` and `scratch`, with three keys."""
    import ragkit
    from ragkit.storage.keys import KeyStore
    from tests.service.conftest import FAST

    root = tmp_path_factory.mktemp("fuzz")
    home = root / "home"
    admin = seed_home(home, root / "corpus", {"docs": TINY_CORPUS, "other": OTHER_CORPUS})
    with ragkit.open(home, **FAST) as kb:
        kb.store("empty", create=True)  # adapters are fuzzed here: training stops at "no examples", before a model loads
        kb.store("scratch", create=True)  # the one collection the admin key may delete
        ks = KeyStore(kb.layout.keys)
        keys = {"admin": admin, "read": ks.create(["docs"])["key"], "other": ks.create(["other"], write=True)["key"]}
        ks.close()
        chunk = kb.collection("docs").chunks_of(kb.collection("docs").documents()[0].doc_id)[0]
        ids = {"doc_id": chunk.doc_id, "chunk_id": chunk.chunk_id}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {**FAST_ENV, "RAGKIT_LOG_FORMAT": "json", "DO_NOT_TRACK": "1"}.items():
            mp.setenv(k, v)
        with loopback_server(serve_command(home, port), root / "server.log", ready(url), "ragkit serve", timeout=120) as proc:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as c:
                r = c.post("/v1/collections/docs/evals", files={"evalset": ("set.jsonl", evalset_bytes())}, data={"methods": "rag"})
                assert r.status_code == 202, r.text
                ids["job_id"] = ids["eval_id"] = r.json()["id"]
                deadline = time.time() + 120
                while c.get(r.json()["url"]).json()["state"] not in ("succeeded", "failed", "interrupted"):
                    assert time.time() < deadline, "the seed eval did not finish"
                    time.sleep(0.3)
            yield FuzzServer(url, proc.pid, keys, ids, home, root / "server.log")


# -- what a key may do, and the error shape ----------------------------------------------------

VISIBLE = {"admin": {"docs", "other", "empty", "scratch"}, "read": {"docs"}, "other": {"other"}}
WRITABLE = {"admin": VISIBLE["admin"], "read": set(), "other": {"other"}}


def error_body_contract(ctx, response, case) -> None:
    """Every 4xx/5xx answer is `{"error": {"code": str, "message": str}}` (SPEC, HTTP API: Errors)."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} with a body that is not JSON: {response.content[:200]!r}") from None
    err = body.get("error") if isinstance(body, dict) else None
    if not (isinstance(body, dict) and set(body) == {"error"} and isinstance(err, dict) and set(err) == {"code", "message"}):
        raise AssertionError(f"{response.status_code} error body is not {{error: {{code, message}}}}: {body!r:.300}")
    if not all(isinstance(err[k], str) and err[k] for k in ("code", "message")) or "Traceback" in err["message"]:
        raise AssertionError(f"{response.status_code} error code/message not plain non-empty text: {err!r:.300}")
    return None


def documented_success(ctx, response, case) -> None:
    """A 2xx answer is one the operation documents (a 4xx the app does not document is checked by error_body_contract)."""
    if 200 <= response.status_code < 300 and str(response.status_code) not in case.operation.responses.status_codes:
        raise AssertionError(f"{response.status_code} is not documented for {case.operation.label} (documented: {list(case.operation.responses.status_codes)})")
    return None


def key_rights(key_name: str):
    def collection_rights(ctx, response, case) -> None:
        """No 2xx on a collection the key cannot see, nor a 403 that tells it exists; no write through a read key."""
        c = (case.path_parameters or {}).get("c")
        if c is None or response.status_code >= 400 and response.status_code != 403:
            return None
        if c not in VISIBLE[key_name] and c in VISIBLE["admin"]:
            raise AssertionError(f"key {key_name!r} got {response.status_code} on collection {c!r}, which it cannot see (expected 404)")
        writes = case.method.upper() in WRITES and not case.operation.path.endswith(READ_POSTS)
        if 200 <= response.status_code < 300 and writes and c in VISIBLE[key_name] and c not in WRITABLE[key_name]:
            raise AssertionError(f"read-only key {key_name!r} got {response.status_code} for {case.method.upper()} on {c!r}")
        return None

    collection_rights.__name__ = "collection_rights"
    return collection_rights


# -- path parameters pinned to real objects ----------------------------------------------------


def pins(operation, key_name: str, ids: dict[str, str]) -> list[dict]:
    """Path parameters to fix for this operation as this key; `{}` leaves all of them to schemathesis."""
    names = {p.name for p in operation.path_parameters}
    out: list[dict] = [{}]
    if "c" in names:
        if operation.method.upper() == "DELETE" and operation.path == "/v1/collections/{c}":
            cs = ["scratch"] if key_name == "admin" else ["docs", "other", "scratch"]  # admin deletes only scratch
        elif operation.path.endswith("/adapters") and operation.method.upper() == "POST":
            cs = ["empty"] + [c for c in ("docs", "other") if c not in WRITABLE[key_name]]  # never trains a model
        else:
            cs = ["docs", "other"]
        for c in cs:
            pin = {"c": c}
            for name in names - {"c"}:
                if name == "doc_id" and key_name == "admin":
                    continue  # the admin may delete it: leave real documents alone
                if name in ids:
                    out.append({**pin, name: ids[name]})
            out.append(pin)
    for name in names - {"c"}:
        if name in ids and "c" not in names:
            out.append({name: ids[name]})
    return out


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # one per operation and check: the first seen
    operations: list[str] = field(default_factory=list)
    cut_by_budget: list[str] = field(default_factory=list)


def fuzz_operation(operation, key_name: str, key: str, server: FuzzServer, session: requests.Session, tally: Tally, stop_at: float) -> None:
    label = operation.label
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance, documented_success, error_body_contract, key_rights(key_name)]
    headers = {"Authorization": f"Bearer {key}"}
    # one (data kind, pin) pair drawn evenly first, so pinned requests are not crowded out by schemathesis's own path values
    choices = [(mode, pin) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) for pin in pins(operation, key_name, server.ids)]
    strategy = st.sampled_from(choices).flatmap(lambda choice: operation.as_strategy(choice[0], path_parameters=choice[1] or None))

    @settings(max_examples=MAX_EXAMPLES * 2, deadline=None, database=None, derandomize=True, phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy, steer=st.booleans(), model=st.sampled_from(MODELS), stream=st.booleans())
    def run(case, steer, model, stream) -> None:
        if steer and isinstance(case.body, dict) and isinstance(case.body.get("model"), str):
            # a chat request reaches an answer only through a model id naming a collection and a user message
            case.body["model"] = model
            case.body["stream"] = stream
            messages = case.body.get("messages")
            if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
                messages[-1]["role"] = "user"
                if not (isinstance(messages[-1].get("content"), str) and messages[-1]["content"].strip()):
                    messages[-1]["content"] = "How long is the Osprey 4 warranty?"
        if time.monotonic() > stop_at:
            if label not in tally.cut_by_budget:
                tally.cut_by_budget.append(label)
            return
        try:
            response = case.call(base_url=server.url, session=session, headers=headers, timeout=REQUEST_TIMEOUT_S)
        except requests.RequestException as e:
            tally.failures.setdefault(f"{label}: no answer", f"{type(e).__name__}: {e}\n{case.as_curl_command(headers=headers)}")
            return
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            tally.server_errors.append(f"{label} {response.status_code}: {response.text[:300]}")
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (FailureGroup, AssertionError) as e:  # recorded, and the fuzzing goes on
            names = sorted({getattr(f, "title", type(f).__name__) for f in getattr(e, "exceptions", [e])})
            tally.failures.setdefault(f"{label} [{', '.join(names)}]", str(e)[:3000])

    run()
    tally.operations.append(label)


@pytest.fixture(scope="module")
def schema(fuzz_server):
    """The app's own OpenAPI, loaded from the running server."""
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json", timeout=30)


def jobs_failed_inside(home: Path) -> list[dict]:
    """Jobs that ended `internal` (an exception the job did not expect): a 5xx in all but name."""
    from ragkit.storage.home import HomeLayout

    db = sqlite3.connect(HomeLayout(home).jobs)
    try:
        rows = db.execute("SELECT id, kind, error FROM jobs WHERE state = 'failed'").fetchall()
    finally:
        db.close()
    return [{"id": i, "kind": k, "error": json.loads(e)} for i, k, e in rows if e and json.loads(e).get("code") == "internal"]


@pytest.mark.slow
@pytest.mark.parametrize("key_name", KEYS)
def test_fuzz_every_documented_operation(schema, fuzz_server: FuzzServer, key_name: str):
    """No 5xx, documented answers and the error shape everywhere, for each kind of key."""
    tally = Tally()
    stop_at = time.monotonic() + BUDGET_S
    started = time.monotonic()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            fuzz_operation(operation, key_name, fuzz_server.keys[key_name], fuzz_server, session, tally, stop_at)
        alive = session.get(f"{fuzz_server.url}/healthz", timeout=10)
    summary = {
        "key": key_name,
        "operations": len(tally.operations),
        "requests": tally.requests,
        "server_errors": len(tally.server_errors),
        "statuses": dict(sorted(tally.statuses.items())),
        "seconds": round(time.monotonic() - started, 1),
        "cut_by_budget": tally.cut_by_budget,
    }
    print(f"\nfuzz {json.dumps(summary)}")
    report = os.environ.get("RAGKIT_FUZZ_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as f:
            f.write(json.dumps({**summary, "failures": sorted(tally.failures)}) + "\n")
    assert alive.status_code == 200, "the server stopped answering during the fuzzing"
    assert len(tally.operations) >= 20 and tally.requests >= 20 * MAX_EXAMPLES, summary
    assert not tally.server_errors, "\n".join(tally.server_errors[:20])
    assert not tally.failures, "\n\n".join(f"== {k}\n{v}" for k, v in sorted(tally.failures.items()))
    assert not jobs_failed_inside(fuzz_server.home), jobs_failed_inside(fuzz_server.home)


# -- what the fuzzing found: the OpenAPI did not describe what the app sends or reads ---------


def test_openapi_documents_the_error_body_the_multipart_bodies_and_the_event_stream(app_home):
    """Found by the fuzzing above: a streamed chat answer was an undocumented content type (ST105),
    and the two multipart routes had no request body (nothing to fuzz, nothing for a client
    generator). Seen in what it validated against: every error was undocumented but 422, and 422
    was documented as FastAPI's `{"detail": [...]}` (all optional, so anything passed), which the
    app never sends."""
    from tests.service.conftest import fast_settings, running_app, wait_ready

    home, key = app_home
    with running_app(fast_settings(home), key) as client:
        wait_ready(client)
        spec = client.get("/openapi.json").json()
        assert "HTTPValidationError" not in json.dumps(spec)
        upload = spec["paths"]["/v1/collections/{c}/documents"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert upload["required"] == ["files"] and upload["properties"]["files"]["type"] == "array"
        evalset = spec["paths"]["/v1/collections/{c}/evals"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert evalset["required"] == ["evalset"] and {"methods", "adapter", "limit"} <= set(evalset["properties"])
        schema = schemathesis.openapi.from_dict(spec)
        checks = [status_code_conformance, content_type_conformance, response_schema_conformance]

        chat = schema["/v1/chat/completions"]["POST"]
        body = {"model": "ragkit/docs/rag", "messages": [{"role": "user", "content": "How long is the Osprey 4 warranty?"}], "stream": True}
        streamed = client.post("/v1/chat/completions", json=body)
        assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
        chat.Case(body=body, media_type="application/json").validate_response(streamed, checks=checks)

        query = schema["/v1/collections/{c}/query"]["POST"]
        for sent, status in (({"query": ""}, 422), ({"query": "warranty", "where": {"x": {"$nope": 1}}}, 400)):
            refused = client.post("/v1/collections/docs/query", json=sent)
            assert refused.status_code == status, refused.text
            query.Case(path_parameters={"c": "docs"}, body=sent, media_type="application/json").validate_response(refused, checks=checks)
        with pytest.raises(FailureGroup, match="violates schema"):  # the documented error body is a real constraint, not FastAPI's all-optional one
            fake = httpx.Response(422, json={"detail": [{"loc": ["body"], "msg": "x", "type": "y"}]}, request=httpx.Request("POST", "http://t/v1/collections/docs/query"))
            fake.elapsed = datetime.timedelta(0)
            query.Case(path_parameters={"c": "docs"}, body={"query": ""}, media_type="application/json").validate_response(fake, checks=checks)
