"""Collections, their documents (uploads through the sync pipeline) and chunks."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ingest.discovery import upload_source
from ragkit.errors import Conflict, Forbidden, TooLarge, UsageError
from ragkit.storage.home import check_collection_name
from ragkit.types import ChunkInfo, DocumentInfo, IngestReport
from service import staging
from service.auth import Administrable, Caller, Readable, Writable, collection_not_found
from service.jobs import Progress
from service.limits import BodyTooLarge
from service.upload_plan import SYNC_MAX_BYTES, SYNC_MAX_FILES, runs_in_request
from service.state import ServiceState, state

router = APIRouter(prefix="/v1", tags=["collections"])



class CollectionInfo(BaseModel):
    name: str
    documents: int
    chunks: int
    revision: int


class CollectionList(BaseModel):
    collections: list[CollectionInfo]


class CreateCollection(BaseModel):
    name: str = Field(description="3-63 characters a-z, 0-9, '_' or '-'")


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class Deleted(BaseModel):
    deleted: DocumentInfo


class Accepted(BaseModel):
    id: str
    state: str
    url: str


def accepted(job_id: str) -> JSONResponse:
    """The body of every 202: where to follow the job."""
    return JSONResponse(status_code=202, content={"id": job_id, "state": "queued", "url": f"/v1/jobs/{job_id}"})


def _info(st: ServiceState, name: str) -> CollectionInfo:
    documents, chunks = st.kb.manifest.stats(name)
    return CollectionInfo(name=name, documents=documents, chunks=chunks, revision=st.kb.manifest.revision(name))


@router.get("/collections", response_model=CollectionList)
def list_collections(request: Request, principal: Caller):
    """The collections this key may see."""
    st = state(request)
    return CollectionList(collections=[_info(st, n) for n in st.kb.collections() if principal.sees(n)])


@router.post("/collections", status_code=status.HTTP_201_CREATED, response_model=CollectionInfo)
def create_collection(body: CreateCollection, request: Request, principal: Caller):
    """Create an empty collection (admin)."""
    st = state(request)
    name = check_collection_name(body.name)
    if not principal.may("admin") or not principal.sees(name):
        raise Forbidden("creating collections needs an admin key for that name")
    with st.write_lock:
        if st.kb.manifest.has_collection(name):
            raise Conflict(f"collection {name!r} already exists", code="collection_exists")
        st.kb.store(name, create=True)
    return _info(st, name)


@router.delete("/collections/{c}", response_model=CollectionInfo)
def delete_collection(c: Administrable, request: Request):
    """Delete a collection with all its documents, chunks and adapters (admin)."""
    st = state(request)
    with st.write_lock:
        info = _info(st, c)
        st.kb.collection(c).delete()
        st.forget(c)
        for job_id in st.jobs.store.forget(c):  # eval sets and reports hold its text too
            shutil.rmtree(st.kb.layout.job_files / job_id, ignore_errors=True)
        for job in st.jobs.store.list(c):  # still queued: their eval sets go now, the jobs then fail as not found
            if job["state"] == "queued":
                shutil.rmtree(st.kb.layout.job_files / job["id"], ignore_errors=True)
        staging.drop_collection(st.kb.layout, c)  # uploads waiting for a job
    return info


@router.get("/collections/{c}/documents", response_model=DocumentList)
def list_documents(c: Readable, request: Request):
    return DocumentList(documents=state(request).collection(c).documents())


@router.delete("/collections/{c}/documents/{doc_id}", response_model=Deleted)
def delete_document(c: Writable, doc_id: str, request: Request):
    """Remove a document and its chunks from every index."""
    st = state(request)
    with st.write_lock:
        return Deleted(deleted=st.collection(c).delete_document(doc_id))


@router.get("/collections/{c}/chunks/{chunk_id}", response_model=ChunkInfo)
def get_chunk(c: Readable, chunk_id: str, request: Request):
    return state(request).collection(c).chunk(chunk_id)


UPLOAD_BODY = {  # the route reads the form itself (to cap and stage it), so FastAPI cannot see its body: documented here
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "one part per file, each named `files`; its file name is the document's source",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/collections/{c}/documents",
    response_model=IngestReport,
    responses={202: {"model": Accepted, "description": "more than 20 files or 50 MB, or more expected work than a request should wait for (service.upload_plan): ingested by a job"}},
    openapi_extra=UPLOAD_BODY,
)
async def upload_documents(c: Writable, request: Request):
    """Multipart upload, part name `files` (one or many): synced like `ragkit ingest`, per-file report.

    Hidden files (a name starting with '.') are left out as folder ingest leaves them out, and
    listed in `warnings`; a name holding a NUL, a newline or another unprintable character is refused.
    """
    st = state(request)
    limit = st.settings.max_upload_bytes
    try:  # the body is capped as it arrives (service.limits): never more than `limit` bytes are spooled
        form = await request.form(max_files=st.settings.max_upload_files, max_fields=100)
    except BodyTooLarge:
        raise
    except (MultiPartException, HTTPException) as e:  # starlette wraps the parser's error in a 400
        if "too many files" in str(getattr(e, "detail", e)).lower():
            raise TooLarge(f"too many files in one upload: at most {st.settings.max_upload_files} (RAGKIT_MAX_UPLOAD_FILES)") from None
        raise UsageError(f"the upload is not valid multipart form data: {getattr(e, 'detail', e)}", code="invalid_upload") from None
    try:
        parts = [p for p in form.getlist("files") if isinstance(p, UploadFile)]
        if not parts:
            raise UsageError("no files in the upload: send them as multipart parts named `files`", code="invalid_upload")
        named, left_out = _sources(parts)
        total = sum(p.size or 0 for _, p in named)
        if total > limit:
            raise TooLarge(f"the upload holds {total} bytes; this server accepts at most {limit} (RAGKIT_MAX_UPLOAD_BYTES)")
        files, batch, expected = None, None, None
        if len(named) <= SYNC_MAX_FILES and total <= SYNC_MAX_BYTES:  # small enough to hold: weigh the work
            files = [(source, await part.read()) for source, part in named]
            in_request, expected = await run_in_threadpool(runs_in_request, files, st.pace, st.settings)
            if not in_request:
                batch = await run_in_threadpool(_stage_bytes, st, c, files)
        else:
            batch = await _stage(st, c, named)
    finally:
        await form.close()
    if batch is None:
        report = await run_in_threadpool(_ingest, st, c, files, None, left_out)
        st.metrics.count_ingest(report)
        return report
    names = [source for source, _ in named]
    params = {"files": len(named), "bytes": total, "expected_seconds": None if expected is None else round(expected, 1)}
    try:
        job_id = st.jobs.submit("ingest", c, params, lambda _id, progress: _ingest_staged(st, c, batch, names, left_out, progress))
    except BaseException:
        shutil.rmtree(batch, ignore_errors=True)
        raise
    return accepted(job_id)


def _sources(parts: list[UploadFile]) -> tuple[list[tuple[str, UploadFile]], list[dict]]:
    """Each part's source under the naming rule folder ingest uses (ingest.discovery), and the warnings for those left out."""
    named, left_out = [], []
    for part in parts:
        filename = part.filename or ""
        source = upload_source(filename)  # InputError (422) naming the file for an unprintable name
        if source is None:
            left_out.append({"source": filename, "message": f"{filename}: left out: a hidden file (its name starts with '.'), as folder ingest leaves it out"})
        else:
            named.append((source, part))
    return named, left_out


async def _stage(st: ServiceState, name: str, named: list[tuple[str, UploadFile]]) -> Path:
    """Copy the parts to a staging folder for the job (not into memory); removed again if this fails."""
    batch = staging.new_batch(st.kb.layout, name)
    try:
        for i, (_, part) in enumerate(named):
            await part.seek(0)
            with open(batch / f"{i:05d}", "wb") as out:
                await run_in_threadpool(shutil.copyfileobj, part.file, out, 1024 * 1024)
    except BaseException:
        shutil.rmtree(batch, ignore_errors=True)
        raise
    return batch


def _stage_bytes(st: ServiceState, name: str, files: list[tuple[str, bytes]]) -> Path:
    """Write files already read to a staging folder for the job; removed again if this fails."""
    batch = staging.new_batch(st.kb.layout, name)
    try:
        for i, (_, data) in enumerate(files):
            (batch / f"{i:05d}").write_bytes(data)
    except BaseException:
        shutil.rmtree(batch, ignore_errors=True)
        raise
    return batch


def _ingest_staged(st: ServiceState, name: str, batch: Path, names: list[str], left_out: list[dict], progress: Progress) -> dict:
    """The job of a large upload: read its staged files, ingest them, remove them whatever happens."""
    try:
        files = []
        for i, source in enumerate(names):
            try:
                files.append((source, (batch / f"{i:05d}").read_bytes()))
            except FileNotFoundError:  # removed with its collection while the job waited
                raise collection_not_found(name) from None
        return _ingest(st, name, files, progress, left_out)
    finally:
        shutil.rmtree(batch, ignore_errors=True)


def _ingest(st: ServiceState, name: str, files: list[tuple[str, bytes]], progress: Progress | None, left_out: list[dict] = ()) -> dict:
    if not st.kb.manifest.has_collection(name):  # deleted while the job waited
        raise collection_not_found(name)
    with st.write_lock:
        report = st.collection(name).ingest_bytes(files, progress=progress).to_dict()
    st.pace.record(report["seconds"], report["chunks_added"])
    report["warnings"] = [*left_out, *report["warnings"]]
    return report
