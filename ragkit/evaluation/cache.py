"""The eval cache: one answer per (method, settings, collection revision, adapter hash, question)."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from ragkit.storage.sqlite import connect

MIGRATIONS = ("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, collection TEXT, revision INTEGER, answer TEXT NOT NULL)",)


class AnswerCache:
    def __init__(self, path: Path):
        self._conn = connect(path, MIGRATIONS)
        self._lock = threading.Lock()

    @staticmethod
    def key(**parts) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._conn.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, collection: str, revision: int, answer: dict) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO answers(key, collection, revision, answer) VALUES (?, ?, ?, ?)",
                (key, collection, revision, json.dumps(answer)),
            )

    def forget(self, collection: str) -> int:
        """Drop every answer of a collection (it is being deleted; a new one of that name starts at revision 0 again)."""
        with self._lock:
            return self._conn.execute("DELETE FROM answers WHERE collection = ?", (collection,)).rowcount

    def close(self) -> None:
        self._conn.close()
