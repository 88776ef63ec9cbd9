"""Fusion, BM25 and aggregation variants on an ingested BEIR home, scored on one split (train for tuning), as JSON.

    ragkit bench retrieval --beir ../shared/data/beir-scifact --home /tmp/scifact-home --split train   # ingest once
    python benchmarks/retrieval_sweep.py ../shared/data/beir-scifact --home /tmp/scifact-home --split train > sweep.json

Dense scores are exact (query vectors against every chunk vector read back from Chroma) and BM25
scores are computed for every chunk, so one pass scores every variant offline; the shipped
retriever uses Chroma's HNSW and reads each side's top `depth`, which moved nDCG@10 by at most
0.002 where both were measured. A document's score is its best chunk's unless `agg` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def topk(row: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(row))
    idx = np.argpartition(-row, k - 1)[:k]
    return idx[np.argsort(-row[idx], kind="stable")]


def scale(x: np.ndarray, ref: np.ndarray, how: str, floor: float) -> np.ndarray:
    """Scores `x` normalised by the statistics of a side's own top list `ref`."""
    if len(ref) == 0:
        return np.zeros_like(x)
    if how == "minmax":
        lo, hi = ref.min(), ref.max()
        return (x - lo) / (hi - lo) if hi > lo else np.ones_like(x)
    if how == "zscore":
        sd = ref.std()
        return (x - ref.mean()) / sd if sd > 0 else np.zeros_like(x)
    if how == "tmm":  # theoretical min-max: the score's lowest possible value, not the list's
        hi = ref.max()
        return (x - floor) / (hi - floor) if hi > floor else np.zeros_like(x)
    raise ValueError(how)


def fuse(d: np.ndarray, b: np.ndarray, *, fusion="minmax", alpha=0.5, depth=100, fill=False, rrf_k=60, missing="zero", dense_floor=-1.0):
    """(chunk indices, fused scores), best first, over the union of each side's top `depth`."""
    di = topk(d, depth)
    n_pos = int((b > 0).sum())
    bi = topk(b, min(depth, n_pos)) if n_pos else np.array([], dtype=int)
    cand = np.union1d(di, bi)
    if fusion == "rrf":
        rd = {c: r for r, c in enumerate(di, 1)}
        rb = {c: r for r, c in enumerate(bi, 1)}
        s = np.array([(alpha / (rrf_k + rd[c]) if c in rd else 0.0) + ((1 - alpha) / (rrf_k + rb[c]) if c in rb else 0.0) for c in cand])
    elif fill:  # every candidate scored on both sides
        s = alpha * scale(d[cand], d[di], fusion, dense_floor) + (1 - alpha) * scale(b[cand], b[bi], fusion, 0.0)
    else:  # a side that did not return a candidate gives it 0 (or that side's lowest normalised score)
        parts = []
        for row, idx, floor in ((d, di, dense_floor), (b, bi, 0.0)):
            v = scale(row[idx], row[idx], fusion, floor) if len(idx) else np.array([])
            low = v.min() if (missing == "min" and len(v)) else 0.0
            m = dict(zip(idx.tolist(), v.tolist()))
            parts.append(np.array([m.get(c, low) for c in cand.tolist()]))
        s = alpha * parts[0] + (1 - alpha) * parts[1]
    order = np.lexsort((cand, -s))
    return cand[order], s[order]


def documents(chunks: np.ndarray, scores: np.ndarray, sources: np.ndarray, agg="max", limit=100) -> list[str]:
    """Documents ranked by their best chunk (`max`), the sum of their best two (`sum2`), best + 0.1 x second (`maxplus`), or all (`sumall`)."""
    if agg == "max":
        out, seen = [], set()
        for c in chunks:
            s = sources[c]
            if s not in seen:
                seen.add(s)
                out.append(s)
                if len(out) == limit:
                    break
        return out
    per: dict[str, list[float]] = {}
    for c, sc in zip(chunks, scores):
        per.setdefault(sources[c], []).append(float(sc))

    def value(v: list[float]) -> float:
        v = sorted(v, reverse=True)
        return {"sum2": sum(v[:2]), "sumall": sum(v), "maxplus": v[0] + 0.1 * (v[1] if len(v) > 1 else 0.0)}[agg]

    return [doc for doc, _ in sorted(per.items(), key=lambda kv: -value(kv[1]))][:limit]


class Sweep:
    """Exact dense and full BM25 score matrices for one split's queries over every chunk of a home's collection."""

    def __init__(self, beir_dir: Path, home: Path, split: str, collection: str | None):
        from ragkit.cli.bench_retrieval import BeirSet, collection_name_for
        from ragkit.evaluation.ir_metrics import judged_queries
        from ragkit.knowledge_base import open_kb

        beir = BeirSet(beir_dir)
        self.qrels = beir.qrels(split)
        texts = beir.queries()
        self.qids = judged_queries(self.qrels)
        self.queries = [texts[q] for q in self.qids]
        name = collection or collection_name_for(beir_dir)
        with open_kb(home=home) as kb:
            chunks = list(kb.manifest.all_chunks(name))
            self.chunk_ids = [c.chunk_id for c in chunks]
            self.texts = [c.embed_text for c in chunks]
            self.sources = np.array([str(c.metadata["source"]) for c in chunks])
            col = kb.store(name).vectors._col
            vectors = {}
            for i in range(0, len(self.chunk_ids), 2000):
                got = col.get(ids=self.chunk_ids[i : i + 2000], include=["embeddings"])
                vectors.update({cid: np.asarray(e, dtype=np.float32) for cid, e in zip(got["ids"], got["embeddings"])})
            self.C = np.stack([vectors[c] for c in self.chunk_ids])
            self.Q = kb.embedder.embed_documents(self.queries)  # the same vectors embed_query gives, in batches
        self.dense = self.Q @ self.C.T
        self._bm25: dict = {}

    def bm25(self, k1=0.9, b=0.4, method="lucene", stem=True, stop="en", doc_level=0.0) -> np.ndarray:
        """BM25 of every chunk; `doc_level` mixes in the score of the chunk's whole document (0: chunks alone)."""
        key = (k1, b, method, stem, stop, doc_level)
        if key not in self._bm25:
            texts = self.texts
            owner = None
            if doc_level:
                docs = sorted(set(self.sources))
                pos = {d: i for i, d in enumerate(docs)}
                joined: dict[str, list[str]] = {d: [] for d in docs}
                for t, s in zip(self.texts, self.sources):
                    joined[s].append(t)
                texts, owner = [" ".join(joined[d]) for d in docs], np.array([pos[s] for s in self.sources])
            scores = self._bm25_scores(texts, k1, b, method, stem, stop)
            if doc_level:
                base = self.bm25(k1, b, method, stem, stop, 0.0)
                scores = (1 - doc_level) * base + doc_level * scores[:, owner]
            self._bm25[key] = scores
        return self._bm25[key]

    def _bm25_scores(self, texts, k1, b, method, stem, stop) -> np.ndarray:
        import bm25s
        import Stemmer

        stemmer = Stemmer.Stemmer("english") if stem else None

        def tok(t):
            return bm25s.tokenize(t, stopwords=stop, stemmer=stemmer, return_ids=False, show_progress=False)

        r = bm25s.BM25(k1=k1, b=b, method=method)
        r.index(tok(texts), show_progress=False)
        out = np.zeros((len(self.qids), len(texts)), dtype=np.float32)
        for i, q in enumerate(self.queries):
            known = [t for t in tok([q])[0] if t in r.vocab_dict]
            if known:
                out[i] = r.get_scores(known)
        return out

    def run(self, mode="hybrid", bm25: dict | None = None, agg="max", prf: tuple[int, float] | None = None, **fusion) -> dict:
        from ragkit.evaluation.ir_metrics import evaluate

        lexical = self.bm25(**(bm25 or {}))
        dense = self.dense
        if prf:  # Rocchio on the query vector from the top chunks of a first hybrid pass
            k, beta = prf
            Q = np.stack([self.Q[i] + beta * self.C[fuse(self.dense[i], lexical[i])[0][:k]].mean(0) for i in range(len(self.qids))])
            dense = (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ self.C.T
        run = {}
        for i, q in enumerate(self.qids):
            if mode == "dense":
                chunks = topk(dense[i], 400)
                scores = dense[i][chunks]
            elif mode == "bm25":
                chunks = topk(lexical[i], 400)
                scores = lexical[i][chunks]
            else:
                chunks, scores = fuse(dense[i], lexical[i], **fusion)
            run[q] = documents(chunks, scores, self.sources, agg)
        return {k: round(v, 4) for k, v in evaluate(run, self.qrels).items()}


def variants() -> dict[str, dict]:
    """Every variant reported in docs/benchmarks.md, by name."""
    old = {"k1": 1.5, "b": 0.75}
    out: dict[str, dict] = {"dense": {"mode": "dense"}, "bm25 k1 1.5 b 0.75": {"mode": "bm25", "bm25": old}}
    for depth in (20, 50, 100, 200, 500, 1000):
        for a in (0.3, 0.4, 0.5, 0.6, 0.7):
            out[f"minmax a{a} d{depth} | bm25 1.5/0.75"] = {"bm25": old, "alpha": a, "depth": depth}
    for k in (10, 30, 60, 100):
        out[f"rrf k{k} d100 | bm25 1.5/0.75"] = {"bm25": old, "fusion": "rrf", "rrf_k": k}
    for a in (0.3, 0.4, 0.5, 0.6):
        out[f"zscore a{a} d100 | bm25 1.5/0.75"] = {"bm25": old, "fusion": "zscore", "alpha": a}
        out[f"zscore(missing=min) a{a} d100 | bm25 1.5/0.75"] = {"bm25": old, "fusion": "zscore", "alpha": a, "missing": "min"}
        out[f"zscore a{a} d1000 | bm25 1.5/0.75"] = {"bm25": old, "fusion": "zscore", "alpha": a, "depth": 1000}
    for a in (0.3, 0.4, 0.5, 0.6, 0.7):
        out[f"theoretical-minmax(cos>=-1) a{a} d100 | bm25 1.5/0.75"] = {"bm25": old, "fusion": "tmm", "alpha": a}
        out[f"theoretical-minmax(cos>=0) a{a} d100 | bm25 1.5/0.75"] = {"bm25": old, "fusion": "tmm", "alpha": a, "dense_floor": 0.0}
    for f in ("minmax", "zscore", "tmm"):
        for a in (0.4, 0.5, 0.6):
            out[f"fill {f} a{a} d100 | bm25 1.5/0.75"] = {"bm25": old, "fusion": f, "alpha": a, "fill": True}
    for k1 in (0.6, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0):
        for b in (0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9):
            out[f"bm25 k1 {k1} b {b}"] = {"mode": "bm25", "bm25": {"k1": k1, "b": b}}
            out[f"minmax a0.5 d100 | bm25 {k1}/{b}"] = {"bm25": {"k1": k1, "b": b}}
    for m in ("robertson", "atire", "bm25l", "bm25+"):
        out[f"minmax a0.5 d100 | bm25 {m} 1.5/0.75"] = {"bm25": {**old, "method": m}}
    out["minmax a0.5 d100 | bm25 1.5/0.75 unstemmed"] = {"bm25": {**old, "stem": False}}
    out["minmax a0.5 d100 | bm25 1.5/0.75 with stopwords"] = {"bm25": {**old, "stop": None}}
    for agg in ("sum2", "maxplus", "sumall"):
        out[f"minmax a0.5 d100 | bm25 1.5/0.75 | doc={agg}"] = {"bm25": old, "agg": agg}
        out[f"minmax a0.5 d100 | bm25 0.9/0.4 | doc={agg}"] = {"agg": agg}
    for mix in (0.5, 1.0):
        for bm in (old, {"k1": 0.9, "b": 0.4}):
            out[f"minmax a0.5 d100 | bm25 {bm['k1']}/{bm['b']} | doc-level BM25 {mix}"] = {"bm25": {**bm, "doc_level": mix}}
    for k in (3, 5, 10):
        for beta in (0.5, 1.0):
            out[f"minmax a0.5 d100 | bm25 1.5/0.75 | dense PRF k{k} beta{beta}"] = {"bm25": old, "prf": (k, beta)}
    for depth in (100, 200, 300, 500, 1000):
        for a in (0.4, 0.5, 0.6):
            out[f"minmax a{a} d{depth} | bm25 0.9/0.4"] = {"alpha": a, "depth": depth}
            out[f"zscore a{a} d{depth} | bm25 0.9/0.4"] = {"fusion": "zscore", "alpha": a, "depth": depth}
        out[f"rrf k10 d{depth} | bm25 0.9/0.4"] = {"fusion": "rrf", "rrf_k": 10, "depth": depth}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("beir")
    ap.add_argument("--home", required=True, help="A home the corpus was ingested into (by `ragkit bench retrieval --home`).")
    ap.add_argument("--split", default="train")
    ap.add_argument("--collection")
    ap.add_argument("--only", help="Run the variants whose name contains this text.")
    args = ap.parse_args()
    from ragkit.process_defaults import apply_defaults

    apply_defaults()
    sweep = Sweep(Path(args.beir), Path(args.home), args.split, args.collection)
    results = {}
    for name, kwargs in variants().items():
        if args.only and args.only not in name:
            continue
        results[name] = sweep.run(**kwargs)
        print(name, results[name], file=sys.stderr, flush=True)
    print(json.dumps({"split": args.split, "queries": len(sweep.qids), "chunks": len(sweep.chunk_ids), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
