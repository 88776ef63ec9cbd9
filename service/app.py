"""create_app(settings): the FastAPI application; nothing is opened until the app starts."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import ragkit
from ragkit.errors import RagkitError
from ragkit.settings import Settings, load_settings
from service.metrics import ServiceMetrics
from service.limits import RequestGuard
from service.observe import RequestObserver, request_id
from service.routes import answers, collections, jobs, openai, ops
from service.routes.ops import STATIC
from service.state import ServiceState

log = logging.getLogger("ragkit.service")

HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def create_app(settings: Settings | None = None, *, auth: bool = True, address: str = "http://127.0.0.1:8000") -> FastAPI:
    """The service for one home. `auth=False` serves everyone (the `serve` command allows it on loopback only)."""
    from ragkit.process_defaults import apply_defaults

    apply_defaults()  # an entry point: offline, no telemetry, quiet libraries
    settings = settings or load_settings()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        st = ServiceState(settings, auth=auth, address=address, metrics=metrics)
        try:
            st.start()
        except BaseException:
            st.close()
            raise
        app.state.ragkit = st
        if auth and st.keys.active_count() == 0:
            log.warning("no API keys in %s: every request will get 401. Create the first one with:  ragkit keys create --admin --home %s", settings.home, settings.home)
        try:
            yield
        finally:
            st.close()

    app = FastAPI(
        title="ragkit",
        version=ragkit.__version__,
        description="Put private documents within an LLM's reach, and measure which way works best. "
        "Authenticate with `Authorization: Bearer <key>` (`ragkit keys create`).",
        lifespan=lifespan,
    )
    for router in (ops.router, collections.router, answers.router, jobs.router, openai.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(RequestGuard)  # inside the observer, so what it refuses is logged and counted too
    app.add_middleware(RequestObserver, metrics=metrics)
    _install_error_handlers(app)
    _document_errors(app)
    return app


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string", "description": "stable, e.g. collection_not_found"}, "message": {"type": "string", "description": "names the input and the reason"}},
        }
    },
    "title": "Error",
}


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI names the error body every route answers with: FastAPI's own 422 schema
    (`{"detail": [...]}`) is not what `invalid_request` sends, and the other errors were undocumented."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            schemas["Error"] = ERROR_SCHEMA
            error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            for path, item in schema.get("paths", {}).items():
                for operation in item.values():
                    responses = operation.setdefault("responses", {})
                    if "422" in responses:
                        responses["422"] = {"description": "invalid_request: a field is missing, mistyped or out of range", "content": error}
                    if path.startswith("/v1/"):
                        responses.setdefault("default", {"description": "an error: 400, 401, 403, 404, 409, 413, 502, ... (see the code)", "content": error})
        return app.openapi_schema

    app.openapi = openapi


def _install_error_handlers(app: FastAPI) -> None:
    """The one place errors become responses: `{"error": {code, message}}`, never a traceback."""

    @app.exception_handler(RagkitError)
    async def ragkit_error(request: Request, exc: RagkitError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        if exc.http_status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        problems = []
        for err in exc.errors()[:3]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
            problems.append(f"{where}: {err.get('msg')}")
        return JSONResponse(error_body("invalid_request", "; ".join(problems) or "invalid request"), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 400 and message == "There was an error parsing the body":  # FastAPI's words for any failure reading a body
            code, message = "invalid_request", "the request body could not be read as JSON: it is malformed or nested too deeply"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        # the server drops the connection after this answer (the error goes on up to uvicorn): say so, so a
        # client does not send its next request down it and lose that one too (seen in the soak)
        body = error_body("internal", f"internal error; the server log has the details under request id {request_id.get()}")
        return JSONResponse(body, status_code=500, headers={"Connection": "close"})
