"""Public operational routes: liveness, readiness, Prometheus metrics, and the web page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.state import state

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz():
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request):
    """Ready once the embedding model is loaded and the collections are open (503 until then); a collection that cannot be opened is skipped (logged), not waited for."""
    st = state(request)
    body = {"ready": st.ready.is_set() and st.warmup_error is None, "embedded": st.kb.embedded, "auth": st.auth}
    if st.warmup_error:
        body["error"] = st.warmup_error
    if st.skipped_collections:  # a count only: this route is public, the names are not
        body["collections_skipped"] = len(st.skipped_collections)
    return JSONResponse(body, status_code=200 if body["ready"] else 503)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request):
    return Response(state(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def web_page():
    return FileResponse(STATIC / "index.html", media_type="text/html")
