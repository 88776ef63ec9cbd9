"""The home folder: where a knowledge base keeps its data, and the lock that guards embedded Chroma."""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
from pathlib import Path

from ragkit.errors import HomeLocked, UsageError

COLLECTION_RE = re.compile(r"[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]")
ITEM_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")  # adapters and tuned embedders: one folder name each


def check_collection_name(name: str) -> str:
    if not COLLECTION_RE.fullmatch(name or ""):
        raise UsageError(
            f"invalid collection name {name!r}: use 3-63 characters a-z, 0-9, '_' or '-', "
            "starting and ending with a letter or digit",
            code="invalid_collection",
        )
    return name


class HomeLayout:
    """Paths inside a home; creating it is cheap and touches nothing but the folder."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.sqlite3"

    @property
    def chroma(self) -> Path:
        return self.root / "chroma"

    def bm25(self, collection: str) -> Path:
        return self.root / "bm25" / collection

    def adapters(self, collection: str) -> Path:
        return self.root / "adapters" / collection

    def embedders(self, collection: str) -> Path:
        return self.root / "embedders" / collection

    @property
    def lock_file(self) -> Path:
        return self.root / "ragkit.lock"

    @property
    def keys(self) -> Path:
        return self.root / "keys.sqlite3"

    @property
    def eval_cache(self) -> Path:
        return self.root / "evals" / "cache.sqlite3"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs.sqlite3"

    @property
    def job_files(self) -> Path:
        return self.root / "jobs"

    def ensure(self) -> None:
        """Create the home readable by its owner alone (0700): it holds private text, keys and indexes.

        An existing home of ours is tightened too; what is inside (Chroma's files among them)
        is then out of other users' reach whatever its own mode.
        """
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.root.stat().st_uid == os.getuid() and self.root.stat().st_mode & 0o077:
            os.chmod(self.root, 0o700)


class HomeLock:
    """An exclusive, process-wide lock on a home's embedded index (fcntl; freed when the process dies)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, purpose: str, hint: str | None = None) -> None:
        """Take the lock or raise HomeLocked naming the holder; `hint` tells others what to do instead."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder, holder_hint = self._read_holder(fd)
            os.close(fd)
            advice = holder_hint or "Stop that process, use another home, or run a Chroma server (RAGKIT_CHROMA_URL) for concurrent writers"
            raise HomeLocked(
                f"the home {self.path.parent} is in use by {holder}; embedded Chroma allows one process per home at a time. {advice}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv)[:200], "purpose": purpose, "hint": hint}).encode())
        os.fsync(fd)
        self._fd = fd

    @staticmethod
    def _read_holder(fd: int) -> tuple[str, str | None]:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            info = json.loads(os.read(fd, 4096) or b"{}")
            return f"process {info.get('pid')} ({info.get('command') or info.get('purpose')})", info.get("hint")
        except (OSError, ValueError):
            return "another process", None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
