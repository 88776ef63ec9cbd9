"""Tuned embedders: the embedding model adapted to one collection, kept in the home.

`tune_embeddings` builds (query, passage) pairs — without labels from the collection itself
(inverse cloze: a sentence of a chunk as the query, the rest of the chunk as its passage; a
title or heading path as the query, the body under it as the passage), or from a user's
labelled pairs — and trains the base model with in-batch negatives (sentence-transformers'
MultipleNegativesRankingLoss). `switch_embedder` points a collection at a tuned embedder (or
back at the base) and re-embeds its chunks; documents not yet re-embedded keep their old
settings fingerprint, so a killed switch re-run (or the next ingest) finishes the job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ragkit.errors import NotFound, UsageError
from ragkit.jsonl import read_jsonl
from ragkit.model_paths import torch_device
from ragkit.storage.home import ITEM_NAME_RE, check_collection_name
from ragkit.storage.manifest import now_iso
from ragkit.types import Chunk, Model, ProgressFn, no_progress

if TYPE_CHECKING:
    from ragkit.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

RECORD = "ragkit.json"
BASE = "base"  # `embedders use base`: back to the configured model
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
MIN_SENTENCE_WORDS = 5


@dataclass(frozen=True)
class TuneSettings:
    """Training knobs: common sentence-transformers fine-tuning values (MNRL, batch 32, lr 2e-5,
    10% warm-up), fixed before any SciFact run. `passes` alone was chosen, on held-out SciFact
    train queries (three passes over the labelled pairs: 0.7489 nDCG@10 against 0.7385 for one
    and 0.7313 untuned); docs/benchmarks.md has what they give."""

    batch_size: int = 32
    lr: float = 2e-5
    warmup: float = 0.1
    passes: int = 3  # the default run: this many passes over the pairs, at most max_steps steps
    max_steps: int = 300
    max_seq_length: int = 256
    keep_sentence: float = 0.1  # inverse cloze: how often the query sentence stays in its passage
    seed: int = 0


@dataclass(frozen=True)
class Pair:
    query: str
    passage: str


class EmbedderInfo(Model):
    name: str
    collection: str
    path: str
    base: str
    embedder_id: str
    revision: int
    stale: bool
    in_use: bool
    created_at: str
    source: str
    pairs: int
    steps: int
    seconds: float
    loss_first: float | None = None
    loss_last: float | None = None


class TuneResult(Model):
    """The `tune-embeddings` JSON."""

    embedder: str
    pairs: int
    steps: int
    seconds: float
    path: str
    collection: str
    revision: int
    source: str
    loss_first: float | None
    loss_last: float | None
    switch: dict | None


class SwitchResult(Model):
    """The `embedders use` JSON: what was re-embedded to bring the collection to its embedder."""

    collection: str
    embedder: str
    embedder_id: str
    documents: int
    chunks: int
    seconds: float


class EmbedderStore:
    """Lists, finds and deletes a collection's tuned embedders; `stale` when the collection changed since."""

    def __init__(self, kb: "KnowledgeBase"):
        self.kb = kb

    def root(self, collection: str) -> Path:
        return self.kb.layout.embedders(check_collection_name(collection))

    def folder(self, collection: str, name: str) -> Path:
        if not ITEM_NAME_RE.fullmatch(name or "") or name == BASE:
            raise UsageError(f"invalid embedder name {name!r}: 1-63 characters A-Z, a-z, 0-9, '_', '.', '-'; not {BASE!r}", code="invalid_name")
        return self.root(collection) / name

    def in_use(self, collection: str) -> str | None:
        return self.kb.manifest.collection_embedder(collection)

    def list(self, collection: str) -> list[EmbedderInfo]:
        root = self.root(collection)
        if not root.exists():
            return []
        revision = self.kb.manifest.revision(collection)
        using = self.in_use(collection)
        out = []
        for rec in sorted(root.glob(f"*/{RECORD}")):
            if rec.parent.name.startswith("."):  # a `.partial` folder a killed run left behind
                continue
            data = json.loads(rec.read_text())
            data.update(path=str(rec.parent), stale=int(data.get("revision", -1)) != revision, in_use=data.get("name") == using)
            out.append(EmbedderInfo(**{k: data.get(k) for k in EmbedderInfo.model_fields if k in data}))
        return sorted(out, key=lambda e: e.created_at)

    def get(self, collection: str, name: str) -> EmbedderInfo:
        for info in self.list(collection):
            if info.name == name:
                return info
        raise NotFound(
            f"embedder {name!r} for collection {collection!r} not found; train one with `ragkit tune-embeddings -c {collection} --name {name}`",
            code="embedder_not_found",
        )

    def delete(self, collection: str, name: str) -> EmbedderInfo:
        info = self.get(collection, name)
        if info.in_use:
            raise UsageError(
                f"embedder {name!r} is in use by collection {collection!r}; switch away first (`ragkit embedders use {BASE} -c {collection}`)",
                code="embedder_in_use",
            )
        shutil.rmtree(info.path)
        return info


# -- pairs ---------------------------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    """Sentences of a passage long enough to stand as a query (a regex split: no model, no download)."""
    out = []
    for part in _SENTENCE.split(text.replace("\n", " ")):
        part = part.strip()
        if len(part.split()) >= MIN_SENTENCE_WORDS:
            out.append(part)
    return out


def unsupervised_pairs(chunks: Iterable[Chunk], seed: int = 0, keep_sentence: float = 0.1) -> list[Pair]:
    """Pairs from the collection alone: title/heading -> body (once per document) and one inverse-cloze pair per chunk."""
    rng = random.Random(seed)
    pairs: list[Pair] = []
    titled: set[str] = set()
    for c in chunks:
        body = c.text.strip()
        prefix = c.embed_text[: -len(c.text)].strip() if c.embed_text.endswith(c.text) else ""
        if prefix and body and c.doc_id not in titled and len(prefix.split()) >= 2:
            titled.add(c.doc_id)
            pairs.append(Pair(prefix, body))
        found = sentences(body)
        if len(found) < 2:
            continue
        sentence = rng.choice(found)
        passage = c.embed_text if rng.random() < keep_sentence else c.embed_text.replace(sentence, " ").strip()
        pairs.append(Pair(sentence, passage))
    return pairs


def read_pairs_file(path: str | Path) -> list[dict]:
    """JSON Lines of {"query", "positive"} (a passage's text) or {"query", "source"} (a document of the collection)."""
    path = Path(path)
    rows = []
    for n, row in read_jsonl(path, code="invalid_pairs", error=UsageError, missing="no such file (pairs are JSON Lines of query with positive or source)"):
        if not isinstance(row, dict) or not str(row.get("query") or "").strip():
            raise UsageError(f"{path} line {n}: needs a non-empty \"query\"", code="invalid_pairs")
        if not (str(row.get("positive") or "").strip() or str(row.get("source") or "").strip()):
            raise UsageError(f"{path} line {n}: needs \"positive\" (a passage) or \"source\" (a document)", code="invalid_pairs")
        rows.append({"line": n, **row})
    if not rows:
        raise UsageError(f"{path}: no pairs", code="invalid_pairs")
    return rows


def labelled_pairs(kb: "KnowledgeBase", collection: str, rows: list[dict], origin: str) -> list[Pair]:
    """Resolve {"query", "source"} rows to the source's chunk the base model ranks best for the query."""
    import numpy as np

    pairs: list[Pair] = []
    by_source: dict[str, list[Chunk]] = {}
    if any("positive" not in r for r in rows):
        for c in kb.manifest.all_chunks(collection):
            by_source.setdefault(str(c.metadata.get("source", "")), []).append(c)
    embedder = kb.embedder_for(collection)
    for row in rows:
        if str(row.get("positive") or "").strip():
            pairs.append(Pair(str(row["query"]), str(row["positive"])))
            continue
        chunks = by_source.get(str(row["source"]))
        if not chunks:
            raise UsageError(f"{origin} line {row['line']}: source {row['source']!r} is not in collection {collection!r}", code="invalid_pairs")
        best = chunks[0]
        if len(chunks) > 1:
            scores = embedder.embed_documents([c.embed_text for c in chunks]) @ embedder.embed_query(str(row["query"]))
            best = chunks[int(np.argmax(scores))]
        pairs.append(Pair(str(row["query"]), best.embed_text))
    return pairs


# -- training ------------------------------------------------------------------------------------


def _train(base_path: Path, pairs: list[Pair], steps: int, cfg: TuneSettings, progress: ProgressFn):
    """In-batch-negatives training; returns (model, first loss, last loss)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import batch_to_device
    try:
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:  # before sentence-transformers 6
        from sentence_transformers.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(cfg.seed)
    model = SentenceTransformer(str(base_path), device=torch_device(), local_files_only=True)
    model.max_seq_length = min(model.max_seq_length or cfg.max_seq_length, cfg.max_seq_length)
    loss_fn = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    schedule = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup * steps), steps)
    encode = getattr(model, "preprocess", None) or model.tokenize  # sentence-transformers renamed it
    model.train()
    per_epoch = max(1, math.ceil(len(pairs) / cfg.batch_size))
    order = list(range(len(pairs)))
    rng = random.Random(cfg.seed)
    first = last = None
    for step in range(steps):
        if step % per_epoch == 0 and step:
            rng.shuffle(order)
        at = (step % per_epoch) * cfg.batch_size
        batch = [pairs[i] for i in order[at : at + cfg.batch_size]]
        features = [batch_to_device(encode(texts), model.device) for texts in ([p.query for p in batch], [p.passage for p in batch])]
        value = loss_fn(features, None)
        optimizer.zero_grad()
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        last = float(value.detach())
        first = last if first is None else first
        progress("training", step + 1, steps)
    model.eval()
    return model, first, last


def tune_embeddings(
    kb: "KnowledgeBase",
    collection: str,
    *,
    name: str | None = None,
    pairs_file: str | Path | None = None,
    include_unsupervised: bool = False,
    steps: int | None = None,
    use: bool = True,
    settings: TuneSettings = TuneSettings(),
    progress: ProgressFn | None = None,
) -> TuneResult:
    """Adapt the base embedding model to a collection, save it in the home and (by default) switch to it."""
    from ragkit.embedding.encoder import resolve_embedder_path

    progress = progress or no_progress
    started = time.perf_counter()
    kb.store(collection)  # NotFound for an unknown collection
    store = EmbedderStore(kb)
    name = name or "tuned"
    folder = store.folder(collection, name)
    if use:
        kb.lock_for_writing("tune-embeddings")  # fail now, not after training
    revision = kb.manifest.revision(collection)
    pairs: list[Pair] = []
    sources = []
    if pairs_file is not None:
        pairs += labelled_pairs(kb, collection, read_pairs_file(pairs_file), str(pairs_file))
        sources.append("pairs")
    if pairs_file is None or include_unsupervised:
        pairs += unsupervised_pairs(kb.manifest.all_chunks(collection), settings.seed, settings.keep_sentence)
        sources.append("unsupervised")
    random.Random(settings.seed).shuffle(pairs)
    source = "+".join(sources)
    if len(pairs) < 2:
        raise UsageError(
            f"collection {collection!r} gives {len(pairs)} training pair(s); in-batch training needs at least 2 "
            "(ingest more text, or pass --pairs)",
            code="too_few_pairs",
        )
    steps = steps or min(settings.max_steps, settings.passes * math.ceil(len(pairs) / settings.batch_size))
    base_path, base_id = resolve_embedder_path(kb.settings.embed_model)
    model, loss_first, loss_last = _train(base_path, pairs, steps, settings, progress)
    partial = folder.with_name(f".{name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save(str(partial))
    created = now_iso()
    digest = hashlib.sha256(f"{base_id}|{source}|{len(pairs)}|{steps}|{created}".encode()).hexdigest()[:12]
    record = {
        "name": name,
        "collection": collection,
        "base": base_id,
        "embedder_id": f"{collection}/{name}@{digest}",
        "revision": revision,
        "created_at": created,
        "source": source,
        "pairs": len(pairs),
        "steps": steps,
        "seconds": round(time.perf_counter() - started, 2),
        "loss_first": round(loss_first, 5) if loss_first is not None else None,
        "loss_last": round(loss_last, 5) if loss_last is not None else None,
        "settings": settings.__dict__,
    }
    (partial / RECORD).write_text(json.dumps(record, indent=2))
    replacing = folder.exists()
    if replacing:
        shutil.rmtree(folder)
    partial.rename(folder)
    kb.forget_embedder(folder)
    switch = None
    if use or (replacing and store.in_use(collection) == name):
        switch = switch_embedder(kb, collection, name, progress=progress).to_dict()
    return TuneResult(
        embedder=name,
        pairs=len(pairs),
        steps=steps,
        seconds=round(time.perf_counter() - started, 2),
        path=str(folder),
        collection=collection,
        revision=revision,
        source=source,
        loss_first=record["loss_first"],
        loss_last=record["loss_last"],
        switch=switch,
    )


# -- switching -----------------------------------------------------------------------------------

REEMBED_GROUP_CHUNKS = 256


def switch_embedder(kb: "KnowledgeBase", collection: str, name: str | None, *, progress: ProgressFn | None = None) -> SwitchResult:
    """Point the collection at a tuned embedder (None or `base`: the configured model) and re-embed what is not yet on it."""
    from ragkit.fingerprints import content_hash_for, settings_fingerprint
    from ragkit.storage.collection_store import vectors_by_document

    progress = progress or no_progress
    started = time.perf_counter()
    store = kb.store(collection)
    name = None if name in (None, BASE) else name
    if name is not None:
        EmbedderStore(kb).get(collection, name)  # NotFound before anything changes
    kb.lock_for_writing("re-embedding")
    kb.manifest.set_collection_embedder(collection, name)
    embedder = kb.embedder_for(collection)
    fingerprint = settings_fingerprint(kb.settings, embedder)
    todo = [d for d in kb.manifest.documents(collection) if d.status == "indexed" and d.settings_fp != fingerprint]
    total = sum(d.chunks for d in todo)
    done_chunks = 0
    group: list = []

    def flush():
        nonlocal done_chunks, group
        if not group:
            return
        chunks = {d.doc_id: kb.manifest.chunks_of(d.doc_id) for d in group}
        flat = [c for d in group for c in chunks[d.doc_id]]
        matrix = embedder.embed_documents([c.embed_text for c in flat])
        vectors = vectors_by_document(matrix, chunks)
        texts = kb.manifest.document_texts([d.doc_id for d in group])
        rows = [replace(d, settings_fp=fingerprint, content_hash=content_hash_for(texts.get(d.doc_id, ""), fingerprint)) for d in group]
        store.write_documents(rows, chunks, vectors)  # same chunks, new vectors: no revision bump
        done_chunks += len(flat)
        progress("re-embedding", done_chunks, total)
        group = []

    pending = 0
    for doc in todo:
        group.append(doc)
        pending += doc.chunks
        if pending >= REEMBED_GROUP_CHUNKS:
            flush()
            pending = 0
    flush()
    log.info("collection %s now embedded by %s: %d documents, %d chunks re-embedded", collection, embedder.embedder_id, len(todo), done_chunks)
    return SwitchResult(
        collection=collection,
        embedder=name or BASE,
        embedder_id=embedder.embedder_id,
        documents=len(todo),
        chunks=done_chunks,
        seconds=round(time.perf_counter() - started, 2),
    )
