"""The home's SQLite files: one connection setup, and versioned schema migrations (`PRAGMA user_version`).

Each file names its MIGRATIONS: step i takes a database from version i to i + 1. A database
opened by a newer ragkit than wrote it is migrated forward in one transaction per step; one
written by a newer ragkit than this one is refused with a clear error rather than misread.
Step 1 of every file is the schema as first released (`CREATE ... IF NOT EXISTS`), so homes
written before versions existed (user_version 0, tables present) take it as a no-op.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Sequence

from ragkit.errors import ConfigError


def connect(path: Path, migrations: Sequence[str], *, synchronous: str | None = None) -> sqlite3.Connection:
    """Open (creating) a SQLite file shared by threads and processes: autocommit, WAL, rows by name, migrated."""
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():  # owner-only from the start; SQLite gives its -wal and -shm files the same mode
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")  # a server reads while `ragkit keys` or an ingest writes
    if synchronous:
        conn.execute(f"PRAGMA synchronous={synchronous}")
    try:
        migrate(conn, migrations, path)
    except BaseException:
        conn.close()
        raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: Sequence[str], path: Path | str = "database") -> int:
    """Apply the steps this file has not had yet; returns the version it is at now."""
    version = schema_version(conn)
    if version > len(migrations):
        raise ConfigError(
            f"{path} has schema version {version}, newer than this ragkit knows ({len(migrations)}): upgrade ragkit to open this home",
            code="schema_too_new",
        )
    for target in range(version + 1, len(migrations) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) < target:  # another process may have migrated meanwhile
                for statement in _statements(migrations[target - 1]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit our transaction)."""
    out, buf = [], ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):  # not a ';' inside a string or a trigger body
            if buf.strip(" \n\t;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \n\t;"):
        out.append(buf.strip().rstrip(";"))
    return out


class SqliteFile:
    """Base for the home's small tables (keys, jobs): subclasses give MIGRATIONS."""

    MIGRATIONS: Sequence[str] = ()

    def __init__(self, path: Path):
        self._conn = connect(path, self.MIGRATIONS)
        self._lock = threading.Lock()

    def _exec(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
