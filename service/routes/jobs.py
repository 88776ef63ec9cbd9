"""Long work behind 202s: jobs, evals (reports included) and adapter training; all inherit their collection's visibility."""

from __future__ import annotations

import json
import shutil
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ragkit.cli.common import split_list
from ragkit.errors import NotFound, RagkitError, TooLarge, UsageError
from ragkit.finetune.adapters import AdapterInfo
from ragkit.storage.keys import Principal
from service import staging
from service.auth import Caller, Readable, Writable
from service.limits import MAX_EVALSET_BYTES
from service.routes.collections import Accepted, accepted
from service.state import ServiceState, state

router = APIRouter(prefix="/v1", tags=["jobs"])


class Job(BaseModel):
    id: str
    kind: str
    collection: str
    state: str = Field(description="queued | running | succeeded | failed | interrupted")
    progress: float = Field(description="fraction of the work done, 0 to 1")
    stage: str | None
    result: Any
    error: dict[str, str] | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class Eval(Job):
    methods: list[str] | None
    limit: int | None
    report_url: str | None


class EvalList(BaseModel):
    evals: list[Eval]


class AdapterList(BaseModel):
    adapters: list[AdapterInfo]


class QAPair(BaseModel):
    question: str
    answer: str


class TrainAdapter(BaseModel):
    name: str | None = Field(default=None, description="default: a name made from the date")
    data: list[str] | str | None = Field(
        default=None, description="builders: facts, raft, distill, raw, qa, synthetic (list or comma-separated); default: facts, plus qa with train_qa"
    )
    steps: int | None = Field(default=None, ge=1, le=100000, description="default: 5 passes over the examples, at most 560 steps")
    train_qa: list[QAPair] | None = Field(default=None, description="question/answer pairs for the `qa` data")


def _visible_job(st: ServiceState, principal: Principal, job_id: str, kind: str | None = None) -> dict:
    """A job the caller may see; 404 otherwise, the same as for a job that does not exist."""
    try:
        job = st.jobs.store.get(job_id)
    except NotFound:
        job = None
    if job is None or (kind and job["kind"] != kind) or not principal.sees(job["collection"]):
        raise NotFound(f"no {kind or 'job'} {job_id!r}", code=f"{kind or 'job'}_not_found")
    return job


def _public(job: dict) -> dict:
    return {k: v for k, v in job.items() if k != "params"}


def _eval(job: dict) -> dict:
    params = job["params"]
    done = job["state"] == "succeeded"
    out = {**_public(job), "methods": params.get("methods"), "limit": params.get("limit"), "report_url": f"/v1/evals/{job['id']}/report.html" if done else None}
    if done and isinstance(out["result"], dict):
        out["result"] = {**out["result"], "report": out["report_url"]}
    return out


@router.get("/jobs/{job_id}", response_model=Job)
def get_job(job_id: str, request: Request, principal: Caller):
    return _public(_visible_job(state(request), principal, job_id))


# -- evals ------------------------------------------------------------------------------------


EVALSET_BODY = {  # the route reads the form itself (capped as it arrives), so FastAPI cannot see its body: documented here
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["evalset"],
                    "properties": {
                        "evalset": {"type": "string", "format": "binary", "description": "the eval set, JSON Lines (at most 20 MB)"},
                        "methods": {"type": "string", "description": "comma-separated; default: every method that can run"},
                        "adapter": {"type": "string"},
                        "limit": {"type": "string", "pattern": "^[0-9]*$", "description": "a whole number: only the first N questions"},
                    },
                }
            }
        },
    }
}


@router.post("/collections/{c}/evals", status_code=202, response_model=Accepted, openapi_extra=EVALSET_BODY)
async def submit_eval(c: Writable, request: Request):
    """Multipart: part `evalset` (JSON Lines), fields `methods`, `adapter`, `limit`. Runs as a job; same questions resume from the cache."""
    st = state(request)
    try:  # the body is capped as it arrives (service.limits)
        form = await request.form(max_files=1, max_fields=10)
    except MultiPartException as e:
        raise UsageError(f"the eval set upload is not valid multipart form data: {e.message}", code="invalid_upload") from None
    except HTTPException as e:
        if e.status_code != 400:
            raise
        raise UsageError(f"the eval set upload is not valid multipart form data: {e.detail}", code="invalid_upload") from None
    try:
        part = form.get("evalset")
        if not isinstance(part, UploadFile):
            raise UsageError("send the eval set as a multipart file part named `evalset`", code="invalid_upload")
        if (part.size or 0) > MAX_EVALSET_BYTES:
            raise TooLarge(f"the eval set {part.filename or 'evalset'} is {part.size} bytes; this server accepts at most {MAX_EVALSET_BYTES}")
        data = await part.read()
        filename = part.filename or "evalset"
        methods = split_list(str(form.get("methods") or "")) or None
        adapter = str(form.get("adapter") or "") or None
        limit_field = str(form.get("limit") or "").strip()
    finally:
        await form.close()
    if limit_field and not limit_field.isdigit():
        raise UsageError(f"limit must be a whole number, not {limit_field!r}")
    limit = int(limit_field) if limit_field else None
    return accepted(await run_in_threadpool(_start_eval, st, c, filename, data, methods, adapter, limit))


def _start_eval(st: ServiceState, c: str, filename: str, data: bytes, methods: list[str] | None, adapter: str | None, limit: int | None) -> str:
    from ragkit.evaluation.evalset import load_evalset
    from ragkit.methods import check_method

    for m in methods or []:
        check_method(m)
    batch = staging.new_batch(st.kb.layout, c)  # removed below whatever happens; swept at start if we die first
    try:
        tmp = batch / "evalset.jsonl"
        tmp.write_bytes(data)
        try:
            questions = load_evalset(tmp)  # a malformed line (not UTF-8, not JSON, a bad field) is refused now, not a failed job later
        except RagkitError as e:  # name the file the client sent, not our staging copy
            raise type(e)(e.message.replace(str(tmp), filename), code=e.code) from None
        params = {"methods": methods, "adapter": adapter, "limit": limit, "questions": len(questions)}
        job_id = st.jobs.store.add("eval", c, params)
        folder = st.kb.layout.job_files / job_id  # the eval set and the reports live with the job
        folder.mkdir(parents=True, exist_ok=True)
        evalset = tmp.rename(folder / "evalset.jsonl")
    finally:
        shutil.rmtree(batch, ignore_errors=True)
    st.jobs.enqueue(job_id, lambda _id, progress: st.collection(c).evaluate(evalset, methods=methods, adapter=adapter, limit=limit, out=folder, progress=progress).to_dict())
    return job_id


@router.get("/collections/{c}/evals", response_model=EvalList)
def list_evals(c: Readable, request: Request):
    return EvalList(evals=[_eval(j) for j in state(request).jobs.store.list(c, kind="eval")])


@router.get("/evals/{eval_id}", response_model=Eval)
def get_eval(eval_id: str, request: Request, principal: Caller):
    return _eval(_visible_job(state(request), principal, eval_id, kind="eval"))


@router.get("/evals/{eval_id}/report.html", response_class=FileResponse)
def eval_report(eval_id: str, request: Request, principal: Caller):
    st = state(request)
    job = _visible_job(st, principal, eval_id, kind="eval")
    path = st.kb.layout.job_files / job["id"] / "report.html"
    if job["state"] != "succeeded" or not path.exists():
        raise NotFound(f"eval {eval_id!r} has no report yet (state: {job['state']})", code="report_not_found")
    return FileResponse(path, media_type="text/html")


# -- adapters ---------------------------------------------------------------------------------


@router.get("/collections/{c}/adapters", response_model=AdapterList)
def list_adapters(c: Readable, request: Request):
    return AdapterList(adapters=state(request).kb.adapters.list(c))


@router.post("/collections/{c}/adapters", status_code=202, response_model=Accepted)
def train_adapter(c: Writable, body: TrainAdapter, request: Request):
    """Train a LoRA adapter on the collection as a job (`ragkit finetune`)."""
    st = state(request)
    data = split_list(body.data) if isinstance(body.data, str) else body.data
    pairs = [p.model_dump() for p in body.train_qa] if body.train_qa else None
    if data and "qa" in data and not pairs:
        raise UsageError("data `qa` needs train_qa: a list of {question, answer}", code="missing_train_qa")
    params = {"name": body.name, "data": data, "steps": body.steps, "train_qa": len(pairs) if pairs else 0}

    def work(job_id: str, progress) -> dict:
        qa_path = None
        if pairs:
            folder = st.kb.layout.job_files / job_id
            folder.mkdir(parents=True, exist_ok=True)
            qa_path = folder / "train_qa.jsonl"
            qa_path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
        result = st.collection(c).finetune(name=body.name, data=data, train_qa=str(qa_path) if qa_path else None, steps=body.steps, progress=progress)
        return result.to_dict()

    return accepted(st.jobs.submit("finetune", c, params, work))
