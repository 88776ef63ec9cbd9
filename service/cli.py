"""`ragkit serve`: run the HTTP service on one home with uvicorn."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ragkit.cli.common import HomeOpt, fail
from ragkit.errors import UsageError
from ragkit.net import is_loopback_host


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8000,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="Serve without API keys (loopback addresses only).")] = False,
    log_format: Annotated[Optional[str], typer.Option("--log-format", help="text | json (default: RAGKIT_LOG_FORMAT or text)")] = None,
    home: HomeOpt = None,
) -> None:
    """Run the HTTP API, the OpenAI-compatible endpoint and the web page."""
    import uvicorn

    from ragkit.errors import RagkitError
    from ragkit.settings import load_settings
    from ragkit.storage.home import HomeLayout, HomeLock
    from service.app import create_app
    from service.observe import configure_logging

    try:
        settings = load_settings(home=home, log_format=log_format)
        if no_auth and not is_loopback_host(host):
            raise UsageError(f"--no-auth is only allowed on a loopback address, not {host!r}: anyone who can reach it could read every collection")
        if not settings.chroma_url:  # fail now, in one line, rather than inside the server's start-up
            probe = HomeLock(HomeLayout(settings.home).lock_file)
            probe.acquire("ragkit serve (start-up check)")
            probe.release()
    except RagkitError as e:
        fail(e, False)
    configure_logging(settings.log_format)
    import logging

    log = logging.getLogger("ragkit.service")
    address = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    if no_auth:
        log.warning("!!! AUTHENTICATION IS OFF (--no-auth): every local user and process can read and change every collection in %s !!!", settings.home)
    log.info("ragkit %s serving %s at %s (OpenAPI docs at %s/docs)", "embedded" if not settings.chroma_url else settings.chroma_url, settings.home, address, address)
    app = create_app(settings, auth=not no_auth, address=address)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=10)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
