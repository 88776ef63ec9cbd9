"""The manifest: a SQLite database in the home recording what each collection holds.

It is the source of truth for documents and chunk texts (the BM25 index is rebuilt from it);
the vector index follows it. Writes that touch the vector index first record their intent in
`pending`, so a run killed half-way is repaired by the next one (see `pending_intents`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from ragkit.storage.sqlite import connect
from ragkit.types import Chunk, DocumentInfo

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    revision INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    embedder TEXT
);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    source TEXT NOT NULL,
    root TEXT NOT NULL,
    container TEXT NOT NULL,
    container_hash TEXT,
    file_hash TEXT,
    content_hash TEXT,
    settings_fp TEXT,
    bytes INTEGER NOT NULL DEFAULT 0,
    mtime REAL,
    doc_type TEXT,
    status TEXT NOT NULL,
    last_error TEXT,
    chunks INTEGER NOT NULL DEFAULT 0,
    ingested_at TEXT NOT NULL,
    UNIQUE (collection, source)
);
CREATE INDEX IF NOT EXISTS documents_container ON documents(collection, root, container);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_text TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_collection ON chunks(collection);
CREATE TABLE IF NOT EXISTS texts (
    doc_id TEXT PRIMARY KEY,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,
    PRIMARY KEY (collection, doc_id)
);
"""


MIGRATIONS = (
    SCHEMA,  # 1: as first released
    # 2: document time (ragkit.doctime): the effective date and where it came from
    "ALTER TABLE documents ADD COLUMN effective_date TEXT; ALTER TABLE documents ADD COLUMN date_origin TEXT;",
)  # add a step for each change; never edit a released one

UPSERT_DOCUMENT = (
    "INSERT OR REPLACE INTO documents (doc_id, collection, source, root, container, container_hash, file_hash, content_hash,"
    " settings_fp, bytes, mtime, doc_type, status, last_error, chunks, ingested_at, effective_date, date_origin) VALUES "
    "(:doc_id, :collection, :source, :root, :container, :container_hash, :file_hash, :content_hash,"
    " :settings_fp, :bytes, :mtime, :doc_type, :status, :last_error, :chunks, :ingested_at, :effective_date, :date_origin)"
)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DocumentRow:
    """One manifest row; what sync decisions are made from."""

    doc_id: str
    collection: str
    source: str
    root: str
    container: str
    container_hash: str | None
    file_hash: str | None
    content_hash: str | None
    settings_fp: str | None
    bytes: int
    mtime: float | None
    doc_type: str | None
    status: str
    last_error: str | None
    chunks: int
    ingested_at: str
    effective_date: str | None = None  # ISO date (ragkit.doctime)
    date_origin: str | None = None

    def info(self) -> DocumentInfo:
        return DocumentInfo(
            doc_id=self.doc_id,
            source=self.source,
            root=self.root,
            chunks=self.chunks,
            bytes=self.bytes,
            content_hash=self.content_hash or "",
            ingested_at=self.ingested_at,
            doc_type=self.doc_type,
            status=self.status,
            effective_date=self.effective_date,
            date_origin=self.date_origin,
        )


class Manifest:
    """Thread-safe access to the manifest database (one connection, serialised)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path, MIGRATIONS, synchronous="NORMAL")
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, args: Iterable = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    # -- collections ---------------------------------------------------------------------------

    def ensure_collection(self, name: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO collections(name, revision, created_at) VALUES (?, 0, ?)",
                (name, now_iso()),
            )

    def collections(self) -> list[str]:
        return [r["name"] for r in self._query("SELECT name FROM collections ORDER BY name")]

    def has_collection(self, name: str) -> bool:
        return bool(self._query("SELECT 1 FROM collections WHERE name = ?", (name,)))

    def collection_embedder(self, collection: str) -> str | None:
        """The tuned embedder a collection uses (None: the configured model)."""
        rows = self._query("SELECT embedder FROM collections WHERE name = ?", (collection,))
        return (rows[0]["embedder"] or None) if rows else None

    def set_collection_embedder(self, collection: str, name: str | None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE collections SET embedder = ? WHERE name = ?", (name, collection))

    def revision(self, collection: str) -> int:
        rows = self._query("SELECT revision FROM collections WHERE name = ?", (collection,))
        return int(rows[0]["revision"]) if rows else 0

    @staticmethod
    def bump(db: sqlite3.Connection, collection: str) -> None:
        db.execute("UPDATE collections SET revision = revision + 1 WHERE name = ?", (collection,))

    def drop_collection(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM texts WHERE doc_id IN (SELECT doc_id FROM documents WHERE collection = ?)", (name,))
            for table in ("chunks", "documents", "pending"):
                db.execute(f"DELETE FROM {table} WHERE collection = ?", (name,))
            db.execute("DELETE FROM collections WHERE name = ?", (name,))

    def stats(self, collection: str) -> tuple[int, int]:
        docs = self._query(
            "SELECT COUNT(*) AS n, COALESCE(SUM(chunks), 0) AS c FROM documents WHERE collection = ? AND status = 'indexed'",
            (collection,),
        )[0]
        return int(docs["n"]), int(docs["c"])

    # -- documents -----------------------------------------------------------------------------

    def documents(self, collection: str, *, root: str | None = None, container: str | None = None) -> list[DocumentRow]:
        sql = "SELECT * FROM documents WHERE collection = ?"
        args: list = [collection]
        if root is not None:
            sql += " AND root = ?"
            args.append(root)
        if container is not None:
            sql += " AND container = ?"
            args.append(container)
        return [DocumentRow(**dict(r)) for r in self._query(sql + " ORDER BY source", args)]

    def document(self, collection: str, *, doc_id: str | None = None, source: str | None = None) -> DocumentRow | None:
        if doc_id is not None:
            rows = self._query("SELECT * FROM documents WHERE collection = ? AND doc_id = ?", (collection, doc_id))
        else:
            rows = self._query("SELECT * FROM documents WHERE collection = ? AND source = ?", (collection, source))
        return DocumentRow(**dict(rows[0])) if rows else None

    def chunk_ids(self, doc_id: str) -> list[str]:
        return [r["chunk_id"] for r in self._query("SELECT chunk_id FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,))]

    def record_pending(self, collection: str, intents: dict[str, list[str]]) -> None:
        """Before the vector index is written: every chunk id the write may add or remove, per document."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO pending(collection, doc_id, chunk_ids) VALUES (?, ?, ?)",
                [(collection, d, json.dumps(ids)) for d, ids in intents.items()],
            )

    def pending_intents(self, collection: str) -> dict[str, list[str]]:
        rows = self._query("SELECT doc_id, chunk_ids FROM pending WHERE collection = ?", (collection,))
        return {r["doc_id"]: json.loads(r["chunk_ids"]) for r in rows}

    def clear_pending(self, collection: str, doc_ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM pending WHERE collection = ? AND doc_id = ?", [(collection, d) for d in doc_ids])

    def commit_documents(self, collection: str, rows: list[DocumentRow], chunks: dict[str, list[Chunk]], texts: dict[str, str]) -> None:
        """Record documents as indexed with exactly these chunks (after the vector index took them)."""
        with self.transaction() as db:
            for row in rows:
                db.execute("DELETE FROM chunks WHERE doc_id = ?", (row.doc_id,))
                db.execute("INSERT OR REPLACE INTO texts(doc_id, text) VALUES (?, ?)", (row.doc_id, texts.get(row.doc_id, "")))
                db.execute(UPSERT_DOCUMENT, row.__dict__)
                db.executemany(
                    "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (c.chunk_id, c.doc_id, collection, c.ordinal, c.text, c.embed_text, c.start, c.end, json.dumps(c.metadata))
                        for c in chunks.get(row.doc_id, [])
                    ],
                )
            self.bump(db, collection)

    def update_rows(self, collection: str, rows: list[DocumentRow], *, bump: bool = False) -> None:
        """Rewrite document rows without touching chunks (hash refresh, recorded errors)."""
        if not rows:
            return
        with self.transaction() as db:
            for row in rows:
                db.execute(UPSERT_DOCUMENT, row.__dict__)
            if bump:
                self.bump(db, collection)

    def delete_documents(self, collection: str, doc_ids: list[str]) -> None:
        with self.transaction() as db:
            for doc_id in doc_ids:
                db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
                db.execute("DELETE FROM texts WHERE doc_id = ?", (doc_id,))
                db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            self.bump(db, collection)

    # -- chunks ----------------------------------------------------------------------------------

    def all_chunks(self, collection: str) -> Iterator[Chunk]:
        """Every indexed chunk of a collection in a stable order (rowid)."""
        rows = self._query(
            "SELECT chunk_id, doc_id, ordinal, text, embed_text, start, end, metadata FROM chunks WHERE collection = ? ORDER BY rowid",
            (collection,),
        )
        for r in rows:
            yield Chunk(**{**dict(r), "metadata": json.loads(r["metadata"])})

    def chunk_embed_texts(self, collection: str) -> tuple[list[str], list[str]]:
        """(chunk ids, embed texts) of a collection in the `all_chunks` order: what BM25 is built from,
        without the texts shown to readers or the decoded metadata (half the memory at 10^5-10^6 chunks)."""
        ids: list[str] = []
        texts: list[str] = []
        with self._lock:
            for chunk_id, embed_text in self._conn.execute(
                "SELECT chunk_id, embed_text FROM chunks WHERE collection = ? ORDER BY rowid", (collection,)
            ):
                ids.append(chunk_id)
                texts.append(embed_text)
        return ids, texts

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        rows = self._query(
            "SELECT chunk_id, doc_id, ordinal, text, embed_text, start, end, metadata FROM chunks WHERE doc_id = ? ORDER BY ordinal",
            (doc_id,),
        )
        return [Chunk(**{**dict(r), "metadata": json.loads(r["metadata"])}) for r in rows]

    def chunks_by_id(self, chunk_ids: list[str]) -> dict[str, Chunk]:
        out: dict[str, Chunk] = {}
        for i in range(0, len(chunk_ids), 900):
            part = chunk_ids[i : i + 900]
            marks = ",".join("?" * len(part))
            for r in self._query(
                f"SELECT chunk_id, doc_id, ordinal, text, embed_text, start, end, metadata FROM chunks WHERE chunk_id IN ({marks})",
                part,
            ):
                out[r["chunk_id"]] = Chunk(**{**dict(r), "metadata": json.loads(r["metadata"])})
        return out

    def chunk_ids_of_collection(self, collection: str) -> set[str]:
        return {r["chunk_id"] for r in self._query("SELECT chunk_id FROM chunks WHERE collection = ?", (collection,))}

    def filter_chunk_ids(self, collection: str, condition: str, args: list) -> set[str]:
        """Chunk ids of a collection whose metadata satisfies a SQL condition (see ragkit.storage.filters)."""
        rows = self._query(f"SELECT chunk_id FROM chunks WHERE collection = ? AND ({condition})", [collection, *args])
        return {r["chunk_id"] for r in rows}

    def document_texts(self, doc_ids: list[str]) -> dict[str, str]:
        """The normalised full text of documents (what long-context packs)."""
        out: dict[str, str] = {}
        for i in range(0, len(doc_ids), 900):
            part = doc_ids[i : i + 900]
            marks = ",".join("?" * len(part))
            for r in self._query(f"SELECT doc_id, text FROM texts WHERE doc_id IN ({marks})", part):
                out[r["doc_id"]] = r["text"]
        return out
