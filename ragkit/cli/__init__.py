"""The `ragkit` command: the composition root that mounts every command (ingest's, the service's, bench)."""

from ragkit.cli.app import build_app, main

__all__ = ["build_app", "main"]
