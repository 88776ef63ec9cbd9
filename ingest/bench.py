"""`ragkit bench ingest`: ingest throughput against the pure embedding time of the same chunks."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ragkit.cli.common import HomeOpt, JsonOpt, run


def bench_ingest_run(path: Path, home: Path | None = None, workers: int | None = None, embed_only: bool = True, **overrides) -> dict:
    """Ingest `path` into a fresh home, re-ingest it (no-op), then embed the same chunks alone.

    `embed_only=False` skips the last step; `overrides` are settings for this run (e.g. `embed_runtime="int8"`)."""
    from ingest.pipeline import SyncPipeline
    from ragkit.knowledge_base import open_kb

    scratch = Path(tempfile.mkdtemp(prefix="ragkit-bench-")) if home is None else Path(home)
    try:
        with open_kb(home=scratch, **overrides) as kb:
            first = SyncPipeline(kb, "bench", workers=workers).sync_paths([path])
            noop = SyncPipeline(kb, "bench", workers=workers).sync_paths([path])
            texts = [c.embed_text for c in kb.collection("bench").chunks()]
            embed_s = None
            if embed_only:
                embedder = kb.embedder
                embedder.embed_documents(texts[: embedder.batch_size])  # warm-up
                t0 = time.perf_counter()
                embedder.embed_documents(texts)
                embed_s = time.perf_counter() - t0
    finally:
        if home is None:
            shutil.rmtree(scratch, ignore_errors=True)
    seconds = first.seconds
    return {
        "files": first.files_seen,
        "chunks": len(texts),
        "seconds": round(seconds, 3),
        "chunks_per_s": round(len(texts) / seconds, 2) if seconds else None,
        "embed_only_s": round(embed_s, 3) if embed_s is not None else None,
        "throughput_vs_embedding": round(embed_s / seconds, 4) if seconds and embed_s is not None else None,
        "noop_seconds": round(noop.seconds, 3),
        "noop_fraction": round(noop.seconds / seconds, 4) if seconds else None,
        "failed": len(first.failed),
        "skipped": len(first.skipped),
        "noop_unchanged": noop.unchanged,
    }


def bench_ingest(
    path: Annotated[Path, typer.Argument(help="A folder of files to ingest.", exists=True)],
    workers: Annotated[Optional[int], typer.Option("--workers", min=1)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = True,
) -> None:
    """Ingest throughput, embed-only time of the same chunks, and no-op re-ingest time."""
    run(True, lambda: bench_ingest_run(path, home, workers))


def register(bench_app: typer.Typer) -> None:
    """Mount `ingest` on the `bench` group."""
    bench_app.command("ingest")(bench_ingest)
