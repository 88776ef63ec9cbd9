"""The sync pipeline: discovered files -> parse (worker processes) -> embed -> index, with the manifest in step.

new -> add; changed -> replace all its chunks; unchanged -> skip without parsing; with prune,
documents of the given roots that are gone -> delete. A killed run leaves intents in the
manifest that the next run repairs (ragkit.storage.collection_store.CollectionStore.recover).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from ingest.chunking import ChunkerConfig
from ingest.discovery import Duplicate, discover, name_problem
from ingest.document import Block, ParsedDocument
from ingest.parser_pool import ParserPool
from ingest.parsers.base import ParseLimits
from ingest.worker import ParsedUnit, WorkResult, init_worker, parse_and_chunk
from ragkit.doctime import from_mtime
from ragkit.fingerprints import is_unchanged, settings_fingerprint, window_tokens_for
from ragkit.knowledge_base import KnowledgeBase
from ragkit.storage.collection_store import vectors_by_document
from ragkit.storage.manifest import DocumentRow, now_iso
from ragkit.types import FailedItem, IngestReport, ProgressFn, SkippedItem, WarningItem, no_progress

log = logging.getLogger(__name__)


EMBED_GROUP_CHUNKS = 512  # chunks embedded and written together
MAX_INFLIGHT_BYTES = 256 * 1024 * 1024


@dataclass
class Input:
    """One thing to ingest: a file on disk or bytes received (an upload)."""

    source: str
    root: str
    size: int
    path: Path | None = None
    data: bytes | None = None
    mtime: float | None = None

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()


@dataclass(frozen=True)
class Record:
    """One text record ingested without a file parser (a BEIR corpus entry): its source, body and title."""

    source: str
    text: str
    title: str | None = None


@dataclass
class _Tally:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks_added: int = 0
    chunks_deleted: int = 0
    skipped: list[SkippedItem] = field(default_factory=list)
    failed: list[FailedItem] = field(default_factory=list)
    warnings: list[WarningItem] = field(default_factory=list)


def dated(unit: ParsedUnit, mtime: float | None) -> ParsedUnit:
    """A document that states no date of its own is dated by its file's modification time, the last resort."""
    if unit.effective_date is not None or mtime is None:
        return unit
    when = from_mtime(mtime)
    for chunk in unit.chunks:
        chunk.metadata.update(when.metadata())
    return replace(unit, effective_date=when.date, date_origin=when.origin)


class SyncPipeline:
    """Syncs inputs into one collection of a knowledge base."""

    def __init__(self, kb: KnowledgeBase, collection: str, *, workers: int | None = None, progress: ProgressFn | None = None):
        self.kb = kb
        self.settings = kb.settings
        self.collection = collection
        self.workers = max(1, workers or self.settings.workers)
        self.progress = progress or no_progress
        self.embedder = kb.embedder_for(collection) if kb.manifest.has_collection(collection) else kb.embedder
        self.tokenizer_path = str(self.embedder.path)
        self.chunker = ChunkerConfig(
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
            window_tokens=window_tokens_for(self.embedder),
        )
        self.settings_fp = settings_fingerprint(self.settings, self.embedder)
        self.limits = ParseLimits(
            max_file_bytes=self.settings.max_file_bytes,
            archive_max_members=self.settings.archive_max_members,
            archive_max_bytes=self.settings.archive_max_bytes,
            archive_max_depth=self.settings.archive_max_depth,
        )

    # -- entry points ----------------------------------------------------------------------------

    def sync_paths(self, paths: Iterable[str | Path], *, prune: bool = False) -> IngestReport:
        """Ingest files and folders from disk."""
        paths = list(paths)
        inputs: list[Input] = []
        tally = _Tally()
        files_seen = 0
        for item in discover(paths):
            files_seen += 1
            if isinstance(item, Duplicate):
                tally.failed.append(
                    FailedItem(
                        source=item.source,
                        error="duplicate_source",
                        message=f"{item.path} and {item.first} both give the source {item.source!r}; ingest them separately",
                    )
                )
                continue
            problem = next(filter(None, map(name_problem, item.source.split("/"))), None)
            if problem:  # the naming rule uploads follow: a source no command could name is not made
                shown = os.fsencode(item.source).decode("utf-8", "backslashreplace")  # bytes that are not UTF-8 as \xNN
                tally.failed.append(FailedItem(source=shown, error="invalid_file_name", message=f"{shown!r}: {problem}; rename the file"))
                continue
            inputs.append(Input(source=item.source, root=item.root, size=item.size, path=item.path, mtime=item.mtime))
        roots = {str(Path(p).expanduser().absolute()) for p in paths}
        return self._run(inputs, tally, files_seen, prune_roots=roots if prune else None)

    def sync_uploads(self, uploads: list[tuple[str, bytes]]) -> IngestReport:
        """Ingest received files (name, bytes); their root is `upload`."""
        tally = _Tally()
        inputs, names = [], set()
        for name, data in uploads:
            source = Path(name).name or "upload"
            if source in names:
                tally.failed.append(FailedItem(source=source, error="duplicate_source", message=f"two uploads are named {source!r}"))
                continue
            names.add(source)
            inputs.append(Input(source=source, root="upload", size=len(data), data=data))
        return self._run(inputs, tally, len(uploads), prune_roots=None)

    def sync_records(self, records: Iterable[Record], *, root: str = "records", prune: bool = False) -> IngestReport:
        """Ingest text records (title + body) without file parsers: chunk -> embed -> index, in this process.

        The same sync rules as for files: a record whose title and text are unchanged is skipped
        without chunking or embedding; with `prune`, documents of `root` not among the records are deleted.
        """
        from ingest.worker import chunk_document, chunker_for

        started = time.perf_counter()
        records = list(records)
        self.kb.lock_for_writing()
        store = self.kb.store(self.collection, create=True)
        manifest = self.kb.manifest
        start_revision = manifest.revision(self.collection)
        existing = manifest.documents(self.collection)
        by_source = {row.source: row for row in existing}
        tally = _Tally()
        writer = _GroupWriter(self, store, tally)
        splitter = chunker_for(self.chunker, self.tokenizer_path)
        seen: set[str] = set()
        for done, rec in enumerate(records, 1):
            self.progress("chunk", done, len(records))
            if not rec.source or rec.source in seen:
                message = f"two records have the source {rec.source!r}" if rec.source else "a record has an empty source"
                tally.failed.append(FailedItem(source=rec.source, error="duplicate_source" if rec.source else "empty_source", message=message))
                continue
            seen.add(rec.source)
            raw = f"{rec.title or ''}\x1f{rec.text}".encode()
            digest = hashlib.sha256(raw).hexdigest()
            old = by_source.get(rec.source)
            if is_unchanged(old, self.settings_fp, container_hash=digest, root=root):
                tally.unchanged += 1
                continue
            unit = chunk_document(record_document(rec, digest), self.collection, root, splitter, self.settings_fp)
            if unit is None:
                tally.skipped.append(SkippedItem(source=rec.source, reason="empty", message=f"{rec.source}: no text to index"))
                continue
            row = self._row(unit, root=root, container=rec.source, digest=digest, size=len(raw), mtime=None)
            writer.add(row, unit, is_new=not (old and old.status == "indexed"))
        writer.flush()
        gone = [r.doc_id for r in existing if r.root == root and r.source not in seen] if prune else []
        self._finish(store, gone, tally, start_revision)
        return self._report(tally, len(records), started)

    # -- the run ---------------------------------------------------------------------------------

    def _run(self, inputs: list[Input], tally: _Tally, files_seen: int, prune_roots: set[str] | None) -> IngestReport:
        started = time.perf_counter()
        self.kb.lock_for_writing()
        store = self.kb.store(self.collection, create=True)
        manifest = self.kb.manifest
        start_revision = manifest.revision(self.collection)
        existing = manifest.documents(self.collection)
        by_container: dict[str, list[DocumentRow]] = defaultdict(list)
        for row in existing:
            by_container[row.container].append(row)
        by_source = {row.source: row for row in existing}

        from ingest.parsers import check_supported
        from ingest.parsers.base import SkipFile

        to_parse: list[tuple[Input, bytes, str]] = []
        for inp in inputs:
            if inp.size > self.settings.max_file_bytes:
                tally.skipped.append(
                    SkippedItem(source=inp.source, reason="too_large", message=f"{inp.source}: {inp.size} bytes exceeds RAGKIT_MAX_FILE_BYTES ({self.settings.max_file_bytes})")
                )
                continue
            try:
                check_supported(inp.source)
            except SkipFile as e:
                tally.skipped.append(SkippedItem(source=inp.source, reason=e.reason, message=str(e)))
                continue
            try:
                data = inp.read()
            except OSError as e:
                tally.failed.append(FailedItem(source=inp.source, error="unreadable", message=f"{inp.source}: {e.strerror or e}"))
                continue
            digest = hashlib.sha256(data).hexdigest()
            rows = by_container.get(inp.source, [])
            if rows and all(is_unchanged(r, self.settings_fp, container_hash=digest, root=inp.root) for r in rows):
                tally.unchanged += len(rows)
                continue
            to_parse.append((inp, data, digest))

        self.progress("parse", 0, len(to_parse))
        if to_parse:
            self._parse_and_index(to_parse, store, by_container, by_source, tally)

        gone = []
        if prune_roots is not None:
            present = {inp.source for inp in inputs}
            gone = [r.doc_id for r in existing if r.root in prune_roots and r.container not in present]
        self._finish(store, gone, tally, start_revision)
        return self._report(tally, files_seen, started)

    def _finish(self, store, gone: list[str], tally: _Tally, start_revision: int) -> None:
        """Delete what sync found gone, and rebuild BM25 once if anything changed."""
        if gone:
            tally.chunks_deleted += store.delete_documents(gone)
            tally.deleted += len(gone)
        if self.kb.manifest.revision(self.collection) != start_revision:
            self.progress("bm25", 0, 1)
            store.rebuild_bm25()
            self.progress("bm25", 1, 1)

    def _report(self, tally: _Tally, files_seen: int, started: float) -> IngestReport:
        return IngestReport(
            collection=self.collection,
            files_seen=files_seen,
            added=tally.added,
            updated=tally.updated,
            unchanged=tally.unchanged,
            deleted=tally.deleted,
            skipped=tally.skipped,
            failed=tally.failed,
            warnings=tally.warnings,
            chunks_added=tally.chunks_added,
            chunks_deleted=tally.chunks_deleted,
            seconds=round(time.perf_counter() - started, 3),
            revision=self.kb.manifest.revision(self.collection),
        )

    def _parse_and_index(self, jobs, store, by_container, by_source, tally: _Tally) -> None:
        from concurrent.futures import TimeoutError as FutureTimeout

        from pebble import ProcessExpired

        writer = _GroupWriter(self, store, tally)
        done = 0
        pool = self.kb.shared("ingest.parser_pool", ParserPool).get(self.workers, initializer=init_worker)
        pending: deque = deque()
        inflight_bytes = 0
        queue = list(jobs)
        queue.reverse()
        while queue or pending:
            while queue and (not pending or (len(pending) < 4096 and inflight_bytes < MAX_INFLIGHT_BYTES)):
                inp, data, digest = queue.pop()
                fut = pool.schedule(
                    parse_and_chunk,
                    args=(data, inp.source, inp.root, self.collection, self.limits, self.chunker, self.tokenizer_path, self.settings_fp),
                    timeout=self.settings.parse_timeout_s,
                )
                pending.append((inp, digest, fut, len(data)))
                inflight_bytes += len(data)
            inp, digest, fut, nbytes = pending.popleft()
            inflight_bytes -= nbytes
            try:
                result: WorkResult = fut.result()
            except FutureTimeout:
                result = WorkResult(container=inp.source, failure=("parse_timeout", f"{inp.source}: parsing took longer than {self.settings.parse_timeout_s:g} s and was stopped"))
            except ProcessExpired as e:
                result = WorkResult(container=inp.source, failure=("parser_crashed", f"{inp.source}: the parser process died ({e})"))
            except Exception as e:
                result = WorkResult(container=inp.source, failure=("parse_error", f"{inp.source}: {type(e).__name__}: {e}"))
            self._apply(inp, digest, result, by_container, by_source, writer, tally)
            done += 1
            self.progress("parse", done, len(jobs))
        writer.flush()

    def _apply(self, inp: Input, digest: str, result: WorkResult, by_container, by_source, writer: "_GroupWriter", tally: _Tally) -> None:
        """Turn one parse result into report entries, manifest updates and queued writes."""
        old_rows = by_container.get(inp.source, [])
        if result.failure or result.skip:
            if result.failure:
                code, message = result.failure
                tally.failed.append(FailedItem(source=inp.source, error=code, message=message))
            else:
                reason, message = result.skip
                tally.skipped.append(SkippedItem(source=inp.source, reason=reason, message=message))
            if old_rows:  # keep what is stored; remember why this version was not taken
                note = (result.failure or result.skip)[1]
                self.kb.manifest.update_rows(self.collection, [replace(r, last_error=note) for r in old_rows])
            return
        kept_sources: set[str] = set()
        for outcome in result.outcomes:
            kept_sources.add(outcome.source)
            if outcome.status == "skipped":
                tally.skipped.append(SkippedItem(source=outcome.source, reason=outcome.code, message=outcome.message))
            else:
                tally.failed.append(FailedItem(source=outcome.source, error=outcome.code, message=outcome.message))
        refreshed: list[DocumentRow] = []
        for unit in result.units:
            kept_sources.add(unit.source)
            for w in unit.warnings:
                tally.warnings.append(WarningItem(source=unit.source, message=w))
            old = by_source.get(unit.source)
            unit = dated(unit, inp.mtime)
            row = self._row(unit, root=inp.root, container=inp.source, digest=digest, size=inp.size if unit.source == inp.source else unit.chars, mtime=inp.mtime)
            if is_unchanged(old, self.settings_fp, content_hash=unit.content_hash, container=inp.source):
                tally.unchanged += 1
                refreshed.append(replace(row, ingested_at=old.ingested_at))
                continue
            writer.add(row, unit, is_new=not (old and old.status == "indexed"))
        if refreshed:
            self.kb.manifest.update_rows(self.collection, refreshed)
        vanished = [r.doc_id for r in old_rows if r.source not in kept_sources]
        if vanished:  # members that left an archive, attachments that left an e-mail
            writer.flush()
            tally.chunks_deleted += writer.store.delete_documents(vanished)
            tally.deleted += len(vanished)

    def _row(self, unit: ParsedUnit, *, root: str, container: str, digest: str, size: int, mtime: float | None) -> DocumentRow:
        """The manifest row of a document about to be indexed."""
        return DocumentRow(
            doc_id=unit.doc_id,
            collection=self.collection,
            source=unit.source,
            root=root,
            container=container,
            container_hash=digest,
            file_hash=unit.file_hash or digest,
            content_hash=unit.content_hash,
            settings_fp=self.settings_fp,
            bytes=size,
            mtime=mtime,
            doc_type=unit.doc_type,
            status="indexed",
            last_error=None,
            chunks=len(unit.chunks),
            ingested_at=now_iso(),
            effective_date=unit.effective_date,
            date_origin=unit.date_origin,
        )


def record_document(rec: Record, digest: str) -> ParsedDocument:
    """A record as a parsed document: the title (a chunk prefix, as a file's title is), the text's paragraphs."""
    from ingest.parsers.normalize import normalize_line, normalize_text
    from ingest.parsers.text import split_paragraphs

    title = normalize_line(rec.title or "") or None
    blocks = tuple(Block(p) for p in split_paragraphs(normalize_text(rec.text or "")))
    if not blocks and title:  # a title alone is the text
        blocks, title = (Block(title),), None
    return ParsedDocument(source=rec.source, doc_type="record", blocks=blocks, title=title, file_hash=digest)


class _GroupWriter:
    """Collects parsed documents and embeds + writes them in groups (large encode batches are fastest)."""

    def __init__(self, pipeline: SyncPipeline, store, tally: _Tally):
        self.pipeline = pipeline
        self.store = store
        self.tally = tally
        self.rows: list[DocumentRow] = []
        self.units: list[ParsedUnit] = []
        self.new: list[bool] = []
        self.chunks = 0

    def add(self, row: DocumentRow, unit: ParsedUnit, is_new: bool) -> None:
        self.rows.append(row)
        self.units.append(unit)
        self.new.append(is_new)
        self.chunks += len(unit.chunks)
        if self.chunks >= EMBED_GROUP_CHUNKS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        embed_texts = [c.embed_text for u in self.units for c in u.chunks]
        matrix = self.pipeline.embedder.embed_documents(embed_texts)
        chunks = {u.doc_id: u.chunks for u in self.units}
        vectors = vectors_by_document(matrix, chunks)
        doc_texts = {u.doc_id: u.text for u in self.units}
        self.tally.chunks_deleted += self.store.write_documents(self.rows, chunks, vectors, doc_texts)
        self.tally.chunks_added += len(embed_texts)
        self.tally.added += sum(self.new)
        self.tally.updated += len(self.new) - sum(self.new)
        self.rows, self.units, self.new, self.chunks = [], [], [], 0


__all__ = ["SyncPipeline", "Input", "Record"]
