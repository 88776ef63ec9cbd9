"""The HTTP service: `create_app(settings)` builds the FastAPI app for one home."""

from service.app import create_app

__all__ = ["create_app"]
