"""A small SQLite file shared by threads and processes: autocommit, WAL, rows by column name."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class SqliteFile:
    """Base for the home's small tables (keys, jobs): subclasses give SCHEMA."""

    SCHEMA = ""

    def __init__(self, path: Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")  # a server reads while `ragkit keys` writes
            self._conn.executescript(self.SCHEMA)

    def _exec(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
