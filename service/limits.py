"""What every request passes before a route reads it: the caller's key is checked, then the body is capped as it arrives.

One pure ASGI middleware, so nothing is read before the key is known and no body (chunked or
with a Content-Length) is read past its limit: JSON bodies `max_json_bytes`, document uploads
`max_upload_bytes`, eval sets `MAX_EVALSET_BYTES` (plus room for the form's other fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragkit.errors import RagkitError
from ragkit.settings import Settings

MAX_EVALSET_BYTES = 20 * 1000 * 1000
FORM_OVERHEAD_BYTES = 64 * 1024  # the fields beside the eval set (methods, adapter, limit) and the boundaries
PRINCIPAL_KEY = "ragkit.principal"  # where the authenticated caller waits in the ASGI scope for `service.auth.caller`
UPLOAD_ROUTE = re.compile(r"/v1/collections/[^/]+/documents/?")
EVALSET_ROUTE = re.compile(r"/v1/collections/[^/]+/evals/?")
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))


@dataclass(frozen=True)
class BodyLimit:
    limit: int
    what: str  # "upload", "eval set", "JSON body"
    setting: str | None  # the setting that raises it, named in the 413

    def message(self, size: int | None = None) -> str:
        seen = f"is {size} bytes" if size is not None else f"goes past {self.limit} bytes"
        where = f" (set by {self.setting})" if self.setting else ""
        return f"the {self.what} {seen}; this server reads at most {self.limit} bytes{where}"


def body_limit(settings: Settings, method: str, path: str) -> BodyLimit:
    """The most bytes the body of this request may hold."""
    if method == "POST" and UPLOAD_ROUTE.fullmatch(path):
        return BodyLimit(settings.max_upload_bytes, "upload", "RAGKIT_MAX_UPLOAD_BYTES")
    if method == "POST" and EVALSET_ROUTE.fullmatch(path):
        return BodyLimit(MAX_EVALSET_BYTES + FORM_OVERHEAD_BYTES, "eval set upload", None)
    return BodyLimit(settings.max_json_bytes, "request body", "RAGKIT_MAX_JSON_BYTES")


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes its limit. An HTTPException, because FastAPI turns
    any other error met while reading a body into a 400; the service's handler answers it as 413."""

    def __init__(self, message: str):
        super().__init__(status_code=413, detail=message, headers={"Connection": "close"})


def error_response(exc: RagkitError | BodyTooLarge) -> JSONResponse:
    if isinstance(exc, BodyTooLarge):
        return JSONResponse({"error": {"code": "too_large", "message": exc.detail}}, status_code=413, headers=exc.headers)
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else {}
    return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers={**headers, "Connection": "close"})


class RequestGuard:
    """Authenticates /v1/ requests from their headers alone, then lets the body through only up to its limit."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from service.auth import authenticate

        st = scope["app"].state.ragkit
        headers = dict(scope.get("headers") or [])
        if scope["path"].startswith("/v1/"):
            try:
                scope[PRINCIPAL_KEY] = authenticate(st, headers.get(b"authorization", b"").decode("latin-1"))
            except RagkitError as e:  # 401 before a byte of the body is read
                await error_response(e)(scope, receive, send)
                return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        cap = body_limit(st.settings, scope["method"], scope["path"])
        length = headers.get(b"content-length", b"").decode("latin-1").strip()
        if length.isdigit() and int(length) > cap.limit:
            await error_response(BodyTooLarge(cap.message(int(length))))(scope, receive, send)
            return
        seen = 0
        over = False

        async def counted() -> Message:
            nonlocal seen, over
            if over:  # never read on after the limit, whoever asks
                raise BodyTooLarge(cap.message())
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap.limit:
                    over = True
                    raise BodyTooLarge(cap.message())
            return message

        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge as e:  # read outside a route (nothing turned it into a response yet)
            if started:
                raise
            await error_response(e)(scope, receive, send)
