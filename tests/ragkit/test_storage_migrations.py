"""Every SQLite file of a home carries a schema version and migrates forward; a home written before versions opens intact."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from ragkit.errors import ConfigError
from ragkit.evaluation import cache as eval_cache
from ragkit.storage import keys, manifest
from ragkit.storage.home import HomeLayout
from ragkit.storage.sqlite import connect, schema_version

OLD_HOME = Path(__file__).resolve().parents[1] / "fixtures" / "home-v0"  # written by ragkit before schema versions


@pytest.fixture
def old_home(tmp_path: Path) -> HomeLayout:
    shutil.copytree(OLD_HOME, tmp_path / "home")
    return HomeLayout(tmp_path / "home")


def version_of(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_the_old_home_has_no_versions_yet():
    assert version_of(OLD_HOME / "manifest.sqlite3") == 0
    assert version_of(OLD_HOME / "keys.sqlite3") == 0


def test_an_old_manifest_opens_with_its_documents_and_chunks(old_home):
    m = manifest.Manifest(old_home.manifest)
    try:
        assert m.collections() == ["legacy"]
        [doc] = m.documents("legacy")
        assert (doc.source, doc.chunks, doc.status) == ("notes.md", 1, "indexed")
        [chunk] = m.chunks_of(doc.doc_id)
        assert chunk.text == "hello world" and chunk.metadata == {"source": "notes.md"}
        assert m.revision("legacy") == 1
    finally:
        m.close()
    assert version_of(old_home.manifest) == len(manifest.MIGRATIONS)


def test_old_keys_jobs_and_eval_cache_open_and_still_work(old_home):
    from service.jobs import JobStore

    store = keys.KeyStore(old_home.keys)
    try:
        principal = store.authenticate((old_home.root / "KEY.txt").read_text().strip())
        assert principal is not None and "legacy" in principal.collections
    finally:
        store.close()
    jobs = JobStore(old_home.jobs)
    try:
        assert [j["kind"] for j in jobs.list("legacy")] == ["eval"]
    finally:
        jobs.close()
    cache = eval_cache.AnswerCache(old_home.eval_cache)
    try:
        assert cache.get("k1") == {"answer": "hello"}
    finally:
        cache.close()
    for path in (old_home.keys, old_home.jobs, old_home.eval_cache):
        assert version_of(path) == 1


def test_a_new_step_runs_once_and_in_order(tmp_path):
    steps = ["CREATE TABLE t (a INTEGER)", "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'"]
    conn = connect(tmp_path / "f.sqlite3", steps[:1])
    conn.execute("INSERT INTO t(a) VALUES (1)")
    conn.close()
    conn = connect(tmp_path / "f.sqlite3", steps)
    assert schema_version(conn) == 2
    assert [tuple(r) for r in conn.execute("SELECT a, b FROM t")] == [(1, "x")]
    conn.close()
    conn = connect(tmp_path / "f.sqlite3", steps)  # nothing left to do: the ALTER does not run twice
    assert schema_version(conn) == 2
    conn.close()


def test_a_failed_step_leaves_the_file_at_its_old_version(tmp_path):
    connect(tmp_path / "f.sqlite3", ["CREATE TABLE t (a INTEGER)"]).close()
    with pytest.raises(sqlite3.OperationalError):
        connect(tmp_path / "f.sqlite3", ["CREATE TABLE t (a INTEGER)", "ALTER TABLE t ADD COLUMN b TEXT; ALTER TABLE nope ADD COLUMN c TEXT"])
    assert version_of(tmp_path / "f.sqlite3") == 1
    conn = sqlite3.connect(tmp_path / "f.sqlite3")
    assert [r[1] for r in conn.execute("PRAGMA table_info(t)")] == ["a"]  # the first half of the step was rolled back
    conn.close()


def test_a_file_from_a_newer_ragkit_is_refused_by_name(tmp_path):
    path = tmp_path / "manifest.sqlite3"
    manifest.Manifest(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(manifest.MIGRATIONS) + 1}")
    with pytest.raises(ConfigError, match="manifest.sqlite3 has schema version"):
        manifest.Manifest(path)


def test_a_new_home_and_its_databases_are_owner_only(tmp_path):
    import stat

    from ragkit.knowledge_base import open_kb

    home = tmp_path / "home"
    with open_kb(home) as kb:
        kb.manifest.ensure_collection("abc")
        keys.KeyStore(kb.layout.keys).close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for db in ("manifest.sqlite3", "keys.sqlite3"):
        assert stat.S_IMODE((home / db).stat().st_mode) == 0o600, db
    home.chmod(0o755)  # a home made before this rule is tightened when opened
    with open_kb(home):
        pass
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
