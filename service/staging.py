"""Uploads kept on disk for the job that ingests them: `home/jobs/incoming/<collection>/<batch>/`.

A batch is removed when its job ends or its request fails, with its collection when that is
deleted, and every batch is swept at the next start (the jobs that owned them are interrupted).
"""

from __future__ import annotations

import logging
import secrets
import shutil
from pathlib import Path

from ragkit.storage.home import HomeLayout

log = logging.getLogger("ragkit.service")


def incoming(layout: HomeLayout) -> Path:
    return layout.job_files / "incoming"


def new_batch(layout: HomeLayout, collection: str) -> Path:
    """A fresh folder, readable by the owner alone, for one request's files."""
    folder = incoming(layout) / collection / secrets.token_hex(8)
    folder.mkdir(mode=0o700, parents=True)
    return folder


def drop_collection(layout: HomeLayout, collection: str) -> None:
    """Remove every staged file of a collection (it is being deleted)."""
    shutil.rmtree(incoming(layout) / collection, ignore_errors=True)


def sweep(layout: HomeLayout) -> int:
    """Remove everything staged by an earlier run; returns how many batches and files went."""
    root = incoming(layout)
    if not root.exists():
        return 0
    removed = sum(1 for _ in root.rglob("*") if _.is_file())
    shutil.rmtree(root, ignore_errors=True)
    if removed:
        log.warning("removed %d staged upload file(s) left by the last run in %s", removed, root)
    return removed
