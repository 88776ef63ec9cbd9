"""ragkit's ingest against a LlamaIndex IngestionPipeline on the same folder of files, in one run, as JSON.

    python benchmarks/beir_to_files.py ../shared/data/beir-scifact/corpus.jsonl /tmp/scifact-files
    python benchmarks/ingest_vs_llamaindex.py /tmp/scifact-files [--limit 200] [--runtimes onnx,onnx-int8] [--out result.json]

Both sides get the same files, the same MiniLM weights (ragkit's embedder folder), the same
embedding batch size, chunk budget and overlap in MiniLM tokens (ragkit's settings), the same
torch threads and an embedded Chroma each in a fresh temporary folder. ragkit runs through
`ingest.bench.bench_ingest_run` (ingest, no-op re-ingest, embed-only time of its chunks);
LlamaIndex runs SimpleDirectoryReader -> IngestionPipeline(SentenceSplitter,
HuggingFaceEmbedding) -> ChromaVectorStore with a SimpleDocumentStore and UPSERTS, twice.
Imports and one warm-up load of the model happen before either clock starts; each side's
`seconds` still includes building its own model. `speedup` = LlamaIndex seconds / ragkit
seconds (ragkit's files/s relative to LlamaIndex's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

COLLECTION = "bench"  # the collection name ingest.bench uses
PACKAGES = (
    "ragkit",
    "llama-index-core",
    "llama-index-embeddings-huggingface",
    "llama-index-vector-stores-chroma",
    "chromadb",
    "sentence-transformers",
    "transformers",
    "torch",
)
# IngestionPipeline.run(num_workers=N>1) starts N spawned processes, each unpickling the whole
# pipeline (the MiniLM weights too) and running its own torch pool; sequential keeps one model
# whose torch threads already use every core.
WORKERS_REASON = (
    "None (sequential): num_workers>1 spawns that many processes that each receive a pickled copy of the "
    "pipeline, MiniLM included, and run their own torch thread pool; on {nproc} cores embedding dominates "
    "and already uses all of them through torch's threads, so extra processes only oversubscribe the cores"
)


def pick_files(folder: Path, limit: int | None, scratch: Path) -> Path:
    """The folder itself, or a copy of its first `limit` files (by name) under `scratch`."""
    if limit is None:
        return folder
    target = scratch / "input"
    target.mkdir(parents=True)
    for path in sorted(p for p in folder.iterdir() if p.is_file())[:limit]:
        shutil.copy2(path, target / path.name)
    return target


def warm_up(model_path: Path) -> None:
    """Import both stacks and load the model once, so neither clock pays for a cold start the other then skips."""
    import chromadb  # noqa: F401
    import llama_index.core.ingestion
    import llama_index.embeddings.huggingface
    import llama_index.vector_stores.chroma  # noqa: F401
    from sentence_transformers import SentenceTransformer

    from ragkit.model_paths import torch_device

    SentenceTransformer(str(model_path), device=torch_device(), local_files_only=True).encode(["warm-up"])


def count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def mean_tokens(texts: list[str], tokenizer) -> float | None:
    """Mean MiniLM tokens per embedded text (what the model actually reads, before its 256-token cut)."""
    if not texts:
        return None
    return round(sum(len(tokenizer.encode(t, add_special_tokens=False)) for t in texts) / len(texts), 1)


def run_ragkit(folder: Path, home: Path, tokenizer, runtime: str = "torch", embed_only: bool = True) -> dict:
    """ingest.bench's measurement (ingest, no-op, embed-only) into `home`, plus the chunks' embed-text size."""
    from ingest.bench import bench_ingest_run
    from ragkit.knowledge_base import open_kb

    result = bench_ingest_run(folder, home=home, embed_only=embed_only, embed_runtime=runtime)
    with open_kb(home=home) as kb:
        texts = [c.embed_text for c in kb.manifest.all_chunks(COLLECTION)]
    result["embed_tokens_mean"] = mean_tokens(texts, tokenizer)
    return result


def document_batches(documents: list, max_nodes: int, stride_tokens: int) -> list[list]:
    """Consecutive batches whose node count cannot pass `max_nodes`: a document is counted as at most
    one node per `stride_tokens` tokens plus one, a token as at least two characters."""
    batches: list[list] = [[]]
    budget = 0
    for doc in documents:
        worst = len(doc.text) // (2 * max(1, stride_tokens)) + 2
        if batches[-1] and budget + worst > max_nodes:
            batches.append([])
            budget = 0
        batches[-1].append(doc)
        budget += worst
    return [b for b in batches if b]


def run_llamaindex(folder: Path, chroma_path: Path, settings, model_path: Path, tokenizer, num_workers: int | None) -> dict:
    """SimpleDirectoryReader -> IngestionPipeline -> ChromaVectorStore, then the same again (no-op) with the docstore."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.core.storage.docstore import SimpleDocumentStore
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from ragkit.model_paths import torch_device  # the device ragkit's embedder picks, so both embed on the same one

    client = chromadb.PersistentClient(path=str(chroma_path), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)

    def read():
        # filename_as_id: stable document ids, without which UPSERTS sees every re-read file as new
        return SimpleDirectoryReader(input_dir=str(folder), recursive=True, filename_as_id=True).load_data()

    started = time.perf_counter()
    documents = read()
    read_s = time.perf_counter() - started
    t0 = time.perf_counter()
    embed_model = HuggingFaceEmbedding(
        model_name=str(model_path), device=torch_device(), embed_batch_size=settings.embed_batch_size, local_files_only=True
    )
    model_load_s = time.perf_counter() - t0
    splitter = SentenceSplitter(
        chunk_size=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
        tokenizer=partial(tokenizer.encode, add_special_tokens=False),  # a partial, not a lambda: num_workers pickles it
    )
    pipeline = IngestionPipeline(
        transformations=[splitter, embed_model],
        vector_store=ChromaVectorStore(chroma_collection=collection),
        docstore=SimpleDocumentStore(),
        docstore_strategy=DocstoreStrategy.UPSERTS,
        disable_cache=True,  # the docstore decides what to skip; the in-memory cache only adds hashing
    )
    limit = client.get_max_batch_size()

    def run(docs) -> list:
        # the pipeline hands all of a run's nodes to Chroma in one add, which Chroma refuses above
        # its max batch size (5,461 here; SciFact gives ~15k nodes): run it on document batches
        out = []
        for batch in document_batches(docs, limit, settings.chunk_tokens - settings.chunk_overlap):
            out += pipeline.run(documents=batch, num_workers=num_workers)
        return out

    t0 = time.perf_counter()
    nodes = run(documents)
    pipeline_s = time.perf_counter() - t0
    seconds = time.perf_counter() - started

    t0 = time.perf_counter()
    again = run(read())
    noop_s = time.perf_counter() - t0

    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    return {
        "documents": len(documents),
        "nodes": len(nodes),
        "stored": collection.count(),
        "seconds": round(seconds, 3),
        "read_s": round(read_s, 3),
        "model_load_s": round(model_load_s, 3),
        "pipeline_s": round(pipeline_s, 3),
        "noop_seconds": round(noop_s, 3),
        "noop_nodes": len(again),
        "embed_tokens_mean": mean_tokens(texts, tokenizer),
    }


def rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 2) if seconds else None


def versions() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def compare(
    folder: Path,
    *,
    limit: int | None = None,
    workdir: Path | None = None,
    threads: int | None = None,
    num_workers: int | None = None,
    runtimes: tuple[str, ...] = ("torch",),
) -> dict:
    """Run both systems on the same files, each in its own fresh folder under one scratch folder, and report.

    ragkit runs once per embedding runtime: the first is `ragkit`, each other one `ragkit_<runtime>`."""
    from ragkit.process_defaults import apply_defaults

    apply_defaults()  # before transformers loads: its verbosity is read at import
    import torch
    from transformers import AutoTokenizer

    from ragkit.embedding.encoder import resolve_embedder_path
    from ragkit.settings import load_settings

    settings = load_settings()
    model_path, model_id = resolve_embedder_path(settings.embed_model)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)  # one process-wide pool: both systems embed in this process
    torch_threads = torch.get_num_threads()
    loadavg = os.getloadavg()[0]
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="ingest-vs-llamaindex-", dir=workdir))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
        warm_up(model_path)
        source = pick_files(folder, limit, scratch)
        files = count_files(source)
        # the embed-only reference is timed for the first runtime only
        runs = {rt: run_ragkit(source, scratch / f"ragkit-home-{rt}", tokenizer, rt, embed_only=i == 0) for i, rt in enumerate(runtimes)}
        rk = runs[runtimes[0]]
        # on stderr before LlamaIndex runs, so a failure there does not lose ragkit's figures
        print(json.dumps({"ragkit_runs": runs}), file=sys.stderr, flush=True)
        li = run_llamaindex(source, scratch / "llamaindex-chroma", settings, model_path, tokenizer, num_workers)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        torch.set_num_threads(previous_threads)

    nproc = os.cpu_count() or 1
    variants = {
        f"ragkit_{rt}": {
            "embed_runtime": rt,
            "seconds": run["seconds"],
            "chunks": run["chunks"],
            "files_per_s": rate(files, run["seconds"]),
            "noop_seconds": run["noop_seconds"],
            "speedup": round(li["seconds"] / run["seconds"], 3) if run["seconds"] else None,
        }
        for rt, run in runs.items()
        if rt != runtimes[0]
    }
    return {
        "files": files,
        "input": str(folder),
        "limit": limit,
        "model": {"id": model_id, "path": str(model_path)},
        "ragkit": {
            "seconds": rk["seconds"],
            "chunks": rk["chunks"],
            "chunks_per_s": rk["chunks_per_s"],
            "files_per_s": rate(files, rk["seconds"]),
            "noop_seconds": rk["noop_seconds"],
            "noop_unchanged": rk["noop_unchanged"],
            "failed": rk["failed"],
            "skipped": rk["skipped"],
            "workers": settings.workers,
            "embed_runtime": runtimes[0],
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
            "embed_batch_size": settings.embed_batch_size,
            "embed_tokens_mean": rk["embed_tokens_mean"],
        },
        "llamaindex": {
            "seconds": li["seconds"],
            "read_s": li["read_s"],
            "model_load_s": li["model_load_s"],
            "pipeline_s": li["pipeline_s"],
            "documents": li["documents"],
            "nodes": li["nodes"],
            "stored": li["stored"],
            "nodes_per_s": rate(li["nodes"], li["seconds"]),
            "files_per_s": rate(files, li["seconds"]),
            "noop_seconds": li["noop_seconds"],
            "noop_nodes": li["noop_nodes"],
            "num_workers": num_workers,
            "num_workers_reason": WORKERS_REASON.format(nproc=nproc) if not num_workers or num_workers < 2 else "set by --llamaindex-workers",
            "chunk_size": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
            "splitter_tokenizer": f"{model_id} (ragkit's), without special tokens",
            "embed_batch_size": settings.embed_batch_size,
            "docstore": "SimpleDocumentStore (in memory)",
            "docstore_strategy": "upserts",
            "reader": "SimpleDirectoryReader(recursive=True, filename_as_id=True)",
            "cache": "disabled",
            "embed_tokens_mean": li["embed_tokens_mean"],
        },
        **variants,
        "embed_only_s": rk["embed_only_s"],
        "ragkit_throughput_vs_embedding": rk["throughput_vs_embedding"],
        "speedup": round(li["seconds"] / rk["seconds"], 3) if rk["seconds"] else None,
        "noop_speedup": round(li["noop_seconds"] / rk["noop_seconds"], 3) if rk["noop_seconds"] else None,
        "versions": versions(),
        "machine": {
            "nproc": nproc,
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "torch_threads": torch_threads,
            "loadavg_1m_at_start": round(loadavg, 2),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI: FOLDER [--limit N] [--out FILE]; prints the JSON (and writes it to FILE)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="a folder of text files")
    ap.add_argument("--limit", type=int, help="only the first N files by name")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--workdir", type=Path, help="where the temporary homes go (default: the system temp folder)")
    ap.add_argument("--threads", type=int, help="torch threads for both (default: torch's own choice)")
    ap.add_argument("--llamaindex-workers", type=int, help="IngestionPipeline.run(num_workers=N) (default: sequential)")
    ap.add_argument(
        "--runtimes",
        help="ragkit's embedding runtimes, comma-separated, e.g. onnx,onnx-int8,torch (the first is `ragkit`; default: the configured one)",
    )
    args = ap.parse_args(argv)
    from ragkit.plugins import EMBEDDERS
    from ragkit.settings import load_settings

    built_in = [name for name in EMBEDDERS.names() if name != "fake"]
    runtimes = tuple(r.strip() for r in (args.runtimes or load_settings().embed_runtime).split(",") if r.strip())
    if not runtimes or len(set(runtimes)) != len(runtimes) or not set(runtimes) <= set(built_in):
        ap.error(f"--runtimes takes distinct names from {', '.join(built_in)}, not {args.runtimes!r}")
    if not args.folder.is_dir():
        ap.error(f"{args.folder} is not a folder")
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be at least 1")
    result = compare(args.folder, limit=args.limit, workdir=args.workdir, threads=args.threads, num_workers=args.llamaindex_workers, runtimes=runtimes)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
