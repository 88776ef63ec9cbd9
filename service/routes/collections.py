"""Collections, their documents (uploads through the sync pipeline) and chunks."""

from __future__ import annotations

import shutil

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ragkit.errors import Conflict, Forbidden, TooLarge, UsageError
from ragkit.storage.home import check_collection_name
from ragkit.types import ChunkInfo, DocumentInfo, IngestReport
from service.auth import Administrable, Caller, Readable, Writable, collection_not_found
from service.jobs import Progress
from service.state import ServiceState, state

router = APIRouter(prefix="/v1", tags=["collections"])

# SPEC: up to this many files and bytes are ingested in the request; more becomes a job
SYNC_MAX_FILES = 20
SYNC_MAX_BYTES = 50 * 1000 * 1000


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
        st.kb.drop_collection(c)
        st.forget(c)
        for job_id in st.jobs.store.forget(c):  # eval sets and reports hold its text too
            shutil.rmtree(st.kb.layout.job_files / job_id, ignore_errors=True)
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


@router.post(
    "/collections/{c}/documents",
    response_model=IngestReport,
    responses={202: {"model": Accepted, "description": "more than 20 files or 50 MB: ingested by a job"}},
)
async def upload_documents(c: Writable, request: Request):
    """Multipart upload, part name `files` (one or many): synced like `ragkit ingest`, per-file report."""
    st = state(request)
    limit = st.settings.max_upload_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise TooLarge(f"the upload is {int(length)} bytes; this server accepts at most {limit} (RAGKIT_MAX_UPLOAD_BYTES)")
    try:
        form = await request.form(max_files=st.settings.max_upload_files, max_fields=100)
    except (MultiPartException, HTTPException) as e:  # starlette wraps the parser's error in a 400
        if "too many files" in str(getattr(e, "detail", e)).lower():
            raise TooLarge(f"too many files in one upload: at most {st.settings.max_upload_files} (RAGKIT_MAX_UPLOAD_FILES)") from None
        raise UsageError(f"the upload is not valid multipart form data: {getattr(e, 'detail', e)}", code="invalid_upload") from None
    try:
        parts = [p for p in form.getlist("files") if isinstance(p, UploadFile)]
        if not parts:
            raise UsageError("no files in the upload: send them as multipart parts named `files`", code="invalid_upload")
        total = sum(p.size or 0 for p in parts)
        if total > limit:
            raise TooLarge(f"the upload holds {total} bytes; this server accepts at most {limit} (RAGKIT_MAX_UPLOAD_BYTES)")
        files = [(p.filename or "", await p.read()) for p in parts]
    finally:
        await form.close()
    if len(files) <= SYNC_MAX_FILES and total <= SYNC_MAX_BYTES:
        report = await run_in_threadpool(_ingest, st, c, files, None)
        st.metrics.count_ingest(report)
        return report
    job_id = st.jobs.submit("ingest", c, {"files": len(files), "bytes": total}, lambda _id, progress: _ingest(st, c, files, progress))
    return accepted(job_id)


def _ingest(st: ServiceState, name: str, files: list[tuple[str, bytes]], progress: Progress | None) -> dict:
    if not st.kb.manifest.has_collection(name):  # deleted while the job waited
        raise collection_not_found(name)
    with st.write_lock:
        return st.collection(name).ingest_bytes(files, progress=progress).to_dict()
