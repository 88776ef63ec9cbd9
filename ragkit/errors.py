"""The error hierarchy: every error has a stable `code` and the HTTP status it maps to."""

from __future__ import annotations


class RagkitError(Exception):
    """Base class; `code` is stable and machine-readable, the message is for people."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class UsageError(RagkitError):
    """A bad argument, setting or combination of them."""

    code = "invalid_argument"
    http_status = 400


class ConfigError(UsageError):
    """A bad setting or model path: the user's to fix (CLI exit 2); behind the service it is the
    operator's, not the client's, so it answers 500 there, never 400."""

    code = "invalid_setting"
    http_status = 500


class NotFound(RagkitError):
    code = "not_found"
    http_status = 404


class Conflict(RagkitError):
    code = "conflict"
    http_status = 409


class HomeLocked(RagkitError):
    """Another process holds the embedded index of this home."""

    code = "home_locked"
    http_status = 409


class BackendError(RagkitError):
    """A component we depend on (index, model, server) failed."""

    code = "backend_error"
    http_status = 502


class ModelError(BackendError):
    """A model could not be loaded or failed while running (a local model, or a generator server)."""

    code = "model_error"


class InputError(RagkitError):
    """One input file or record is bad; carries the input's name."""

    code = "invalid_input"
    http_status = 422

    def __init__(self, message: str, *, code: str | None = None, source: str | None = None):
        super().__init__(message, code=code)
        self.source = source


class Unauthorized(RagkitError):
    """No API key, or one that is unknown or revoked."""

    code = "unauthorized"
    http_status = 401


class Forbidden(RagkitError):
    """The key may see the collection but lacks the scope for this action."""

    code = "forbidden"
    http_status = 403


class TooLarge(RagkitError):
    """A request beyond the service's size or count limits."""

    code = "too_large"
    http_status = 413
