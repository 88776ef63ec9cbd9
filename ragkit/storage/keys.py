"""API keys of a home: created, listed and revoked here (`ragkit keys`), checked by the service.

A key is `rk_<id>_<secret>`; only an HMAC-SHA256 of the secret under a per-key random salt is
stored, and checks use a constant-time comparison. The secret carries 256 random bits, so a slow
password hash would add latency to every request without adding safety. Keys live in their own
SQLite file (not behind the embedded-index lock), so `ragkit keys` works while a server runs, and
the server reads the table on each request: a revocation takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from ragkit.errors import NotFound
from ragkit.storage.home import check_collection_name
from ragkit.storage.manifest import now_iso
from ragkit.storage.sqlite import SqliteFile

ALL = "*"
SCOPES = ("read", "write", "admin")

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY,
    salt BLOB NOT NULL,
    digest BLOB NOT NULL,
    collections TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""


def scopes_for(write: bool = False, admin: bool = False) -> list[str]:
    """`--write` implies read; `--admin` implies write and read."""
    if admin:
        return list(SCOPES)
    return ["read", "write"] if write else ["read"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's id, the collections it may see and what it may do there."""

    key_id: str
    collections: tuple[str, ...]
    scopes: tuple[str, ...]

    def sees(self, collection: str) -> bool:
        return ALL in self.collections or collection in self.collections

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    @classmethod
    def unrestricted(cls) -> "Principal":
        """The caller when a server runs with --no-auth."""
        return cls(key_id="no-auth", collections=(ALL,), scopes=SCOPES)


@dataclass(frozen=True)
class KeyInfo:
    id: str
    collections: list[str]
    scopes: list[str]
    created_at: str
    revoked_at: str | None

    def to_dict(self) -> dict:
        return {"id": self.id, "collections": self.collections, "scopes": self.scopes, "created_at": self.created_at, "revoked": self.revoked_at is not None, "revoked_at": self.revoked_at}


def _digest(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode(), hashlib.sha256).digest()


class KeyStore(SqliteFile):
    """The keys table of one home."""

    MIGRATIONS = (SCHEMA,)  # 1: as first released

    def create(self, collections: list[str] | None = None, *, write: bool = False, admin: bool = False) -> dict:
        """A new key; the returned dict is the only place its secret ever appears."""
        names = [check_collection_name(c) for c in collections] if collections else [ALL]
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        scopes = scopes_for(write, admin)
        with self._lock:
            self._conn.execute(
                "INSERT INTO keys(id, salt, digest, collections, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, salt, _digest(salt, secret), json.dumps(names), json.dumps(scopes), now_iso()),
            )
        return {"id": key_id, "key": f"rk_{key_id}_{secret}", "collections": names, "scopes": scopes}

    def list(self) -> list[KeyInfo]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM keys ORDER BY created_at, id").fetchall()
        return [KeyInfo(r["id"], json.loads(r["collections"]), json.loads(r["scopes"]), r["created_at"], r["revoked_at"]) for r in rows]

    def active_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM keys WHERE revoked_at IS NULL").fetchone()[0]

    def revoke(self, key_id: str) -> KeyInfo:
        with self._lock:
            cur = self._conn.execute("UPDATE keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", (now_iso(), key_id))
        if cur.rowcount == 0:
            raise NotFound(f"no key with id {key_id!r}", code="key_not_found")
        return next(k for k in self.list() if k.id == key_id)

    def authenticate(self, presented: str) -> Principal | None:
        """The principal for a presented key, or None when it is malformed, unknown or revoked."""
        parts = (presented or "").split("_", 2)
        if len(parts) != 3 or parts[0] != "rk" or not parts[1] or not parts[2]:
            return None
        with self._lock:
            row = self._conn.execute("SELECT * FROM keys WHERE id = ?", (parts[1],)).fetchone()
        if row is None or row["revoked_at"] is not None:
            return None
        if not hmac.compare_digest(_digest(row["salt"], parts[2]), row["digest"]):
            return None
        return Principal(key_id=row["id"], collections=tuple(json.loads(row["collections"])), scopes=tuple(json.loads(row["scopes"])))

