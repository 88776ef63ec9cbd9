"""Jobs: long work (big uploads, evals, fine-tunes) run one at a time off the event loop, recorded in the home.

The job table outlives the server: a job that was queued or running when the process stopped is
marked `interrupted` at the next start, so clients never wait on work nobody is doing.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ragkit.errors import NotFound, RagkitError
from ragkit.storage.manifest import now_iso
from ragkit.storage.sqlite import SqliteFile

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    collection TEXT NOT NULL,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    stage TEXT,
    params TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_collection ON jobs(collection, kind, created_at);
"""

INTERRUPTED = {"code": "interrupted", "message": "the server stopped while this job was queued or running; submit it again (an eval resumes from its cache)"}
Progress = Callable[[str, int, int], None]


class JobCancelled(Exception):
    """Raised inside a job's progress callback once the server is shutting down."""
Work = Callable[[str, Progress], Any]


class JobStore(SqliteFile):
    """The jobs table of a home (its own SQLite file; readable while the server runs)."""

    MIGRATIONS = (SCHEMA,)  # 1: as first released

    def add(self, kind: str, collection: str, params: dict) -> str:
        job_id = f"{kind}-{secrets.token_hex(8)}"
        self._exec(
            "INSERT INTO jobs(id, kind, collection, state, params, created_at) VALUES (?, ?, ?, 'queued', ?, ?)",
            (job_id, kind, collection, json.dumps(params), now_iso()),
        )
        return job_id

    def start(self, job_id: str) -> None:
        self._exec("UPDATE jobs SET state = 'running', started_at = ? WHERE id = ? AND state = 'queued'", (now_iso(), job_id))

    def progress(self, job_id: str, stage: str, fraction: float) -> None:
        self._exec("UPDATE jobs SET stage = ?, progress = ? WHERE id = ? AND state = 'running'", (stage, min(1.0, max(0.0, fraction)), job_id))

    def finish(self, job_id: str, result: Any = None, error: dict | None = None) -> None:
        state = "failed" if error else "succeeded"
        self._exec(
            "UPDATE jobs SET state = ?, progress = CASE WHEN ? THEN progress ELSE 1 END, result = ?, error = ?, finished_at = ? WHERE id = ? AND state = 'running'",
            (state, error is not None, json.dumps(result) if result is not None else None, json.dumps(error) if error else None, now_iso(), job_id),
        )

    def interrupt_unfinished(self) -> int:
        """Mark every queued or running job interrupted (at start-up, and at a graceful shutdown)."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE jobs SET state = 'interrupted', error = ?, finished_at = ? WHERE state IN ('queued', 'running')", (json.dumps(INTERRUPTED), now_iso())
            )
            return cur.rowcount

    def get(self, job_id: str) -> dict:
        rows = self._exec("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFound(f"no job {job_id!r}", code="job_not_found")
        return self._to_dict(rows[0])

    def list(self, collection: str, kind: str | None = None) -> list[dict]:
        if kind:
            rows = self._exec("SELECT * FROM jobs WHERE collection = ? AND kind = ? ORDER BY created_at DESC", (collection, kind))
        else:
            rows = self._exec("SELECT * FROM jobs WHERE collection = ? ORDER BY created_at DESC", (collection,))
        return [self._to_dict(r) for r in rows]

    def forget(self, collection: str) -> list[str]:
        """Remove the finished jobs of a collection that is being deleted; returns their ids."""
        rows = self._exec("DELETE FROM jobs WHERE collection = ? AND state NOT IN ('queued', 'running') RETURNING id", (collection,))
        return [r["id"] for r in rows]

    @staticmethod
    def _to_dict(row: sqlite3.Row) -> dict:
        return {
            "id": row["id"],
            "kind": row["kind"],
            "collection": row["collection"],
            "state": row["state"],
            "progress": row["progress"],
            "stage": row["stage"],
            "params": json.loads(row["params"]),
            "result": json.loads(row["result"]) if row["result"] else None,
            "error": json.loads(row["error"]) if row["error"] else None,
            "created_at": row["created_at"],
            "started_at": row["started_at"],
            "finished_at": row["finished_at"],
        }


class JobRunner:
    """Runs jobs one after another on a worker thread; the event loop only records and reports them."""

    def __init__(self, store: JobStore, on_finish: Callable[[dict], None] | None = None):
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragkit-job")
        self._stopping = False
        self._on_finish = on_finish

    def submit(self, kind: str, collection: str, params: dict, work: Work) -> str:
        """Record a job and queue its work; returns the job id."""
        job_id = self.store.add(kind, collection, params)
        self.enqueue(job_id, work)
        return job_id

    def enqueue(self, job_id: str, work: Work) -> None:
        """Queue the work of a job already recorded with `store.add`."""
        self._pool.submit(self._run, job_id, work)

    def _run(self, job_id: str, work: Work) -> None:
        if self._stopping:
            return
        self.store.start(job_id)
        last = [0.0]

        def progress(stage: str, done: int, total: int) -> None:
            if self._stopping:  # long work reports progress often: that is where it stops
                raise JobCancelled(job_id)
            now = time.monotonic()
            if now - last[0] >= 0.5 or done >= total:
                last[0] = now
                self.store.progress(job_id, stage, done / total if total else 0.0)

        try:
            result = work(job_id, progress)
            error = None
        except JobCancelled:
            return  # already recorded as interrupted by shutdown()
        except RagkitError as e:
            result, error = None, {"code": e.code, "message": e.message}
        except Exception:  # a job must end in a state, whatever failed inside it
            log.exception("job %s failed", job_id)
            result, error = None, {"code": "internal", "message": "the job failed unexpectedly; see the server log"}
        if self._stopping:
            return
        self.store.finish(job_id, result=result, error=error)
        if self._on_finish is not None:
            self._on_finish(self.store.get(job_id))

    def shutdown(self) -> None:
        """Stop taking work; whatever is unfinished is recorded as interrupted."""
        self._stopping = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.store.interrupt_unfinished()
