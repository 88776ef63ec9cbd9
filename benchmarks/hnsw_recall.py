"""Recall of Chroma's HNSW index against exact search, and what it costs in latency, as JSON.

    python benchmarks/hnsw_recall.py --data scifact --out docs/results/hnsw-recall-scifact.json
    python benchmarks/hnsw_recall.py --data synthetic --size 100000 --settings 16:100:100,16:100:400 \
        --out docs/results/hnsw-recall-synthetic.json

Data sets. `scifact`: the BEIR SciFact abstracts (title + text, one vector each) embedded with the
bundled MiniLM, queried with the test claims. `synthetic`: --size vectors made as
benchmarks/query_growth.py makes them (normalise(v[abstract] + 0.35 * v[topic] + noise of norm
0.6), v = the real SciFact vectors), queried with stored vectors plus noise of norm 0.3.
`uniform`: the hard case of tests/ragkit/test_vector_recall.py, --size vectors close to uniform
on the sphere, queried the same way. The SciFact vectors are cached under --cache.

For each index setting a Chroma collection is built in a temporary folder (one build per
construction setting; `ef_search` is changed with `collection.modify` and a fresh client) and
every query is asked unfiltered (k = 10, 100) and filtered to a random 10% and 1% of the chunks,
by `ids=` as ragkit's retrieval filters and by a metadata `where` (k = 10, 100, 1000).

Recall@k is |Chroma's top k ∩ exact top k| / |exact top k|, the exact top k from numpy over the
same vectors; `self_miss` counts stored vectors (up to 200, each queried inside the 10% filter
that holds it) that did not come back first. The last two rows compare the code before
this change (a collection with Chroma's defaults, asked for k results) with `ChromaIndex.search`
now, each query asked of both in turn so that other load on the machine falls on both alike.
Latency is per query, from the call to the parsed answer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCIFACT = ROOT.parent / "shared" / "data" / "beir-scifact"


def scifact_vectors(folder: Path, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(corpus vectors, test-query vectors) with the bundled MiniLM, cached."""
    path = cache / "scifact-minilm.npz"
    if path.exists():
        z = np.load(path)
        return z["docs"], z["queries"]
    from ragkit.embedding.encoder import SentenceTransformerEmbedder

    docs = [json.loads(line) for line in open(folder / "corpus.jsonl", encoding="utf-8")]
    test = {line.split("\t")[0] for line in list(open(folder / "qrels" / "test.tsv", encoding="utf-8"))[1:]}
    queries = [q["text"] for q in map(json.loads, open(folder / "queries.jsonl", encoding="utf-8")) if q["_id"] in test]
    emb = SentenceTransformerEmbedder(batch_size=32)
    t = time.perf_counter()
    doc_vectors = emb.embed_documents([f"{d['title']}\n\n{d['text']}" for d in docs])
    query_vectors = emb.embed_documents(queries)
    print(f"embedded {len(docs)} abstracts and {len(queries)} queries in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, docs=doc_vectors, queries=query_vectors)
    return doc_vectors, query_vectors


def normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def synthetic_vectors(base: np.ndarray, size: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """query_growth.py's recipe: a real abstract's vector, plus its document's topic, plus noise."""
    rng = np.random.default_rng(seed)
    d = base.shape[1]
    docs = max(1, size // 10)  # ~10 chunks a document share a topic vector
    topic = base[rng.integers(0, len(base), docs)]
    doc_of = np.sort(rng.integers(0, docs, size))
    main = base[rng.integers(0, len(base), size)]
    noise = rng.normal(size=(size, d)).astype(np.float32) * (0.6 / np.sqrt(d))
    x = normalise(main + 0.35 * topic[doc_of] + noise)
    picks = rng.integers(0, size, n_queries)
    q = normalise(x[picks] + rng.normal(size=(n_queries, d)).astype(np.float32) * (0.3 / np.sqrt(d)))
    return x, q


def uniform_vectors(size: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The hard case for HNSW: clusters so wide (noise 2 around size / 100 Gaussian centres) that the
    vectors are close to uniform on the sphere, as in tests/ragkit/test_vector_recall.py."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, size // 100), 384)).astype(np.float32)
    x = normalise(centres[rng.integers(0, len(centres), size)] + 2.0 * rng.normal(size=(size, 384)).astype(np.float32))
    picks = rng.integers(0, size, n_queries)
    return x, normalise(x[picks] + 0.3 * rng.normal(size=(n_queries, 384)).astype(np.float32))


def client_at(path: Path):
    """A fresh client (Chroma caches one system per path; clearing it reloads the HNSW index)."""
    import chromadb
    from chromadb.api.client import SharedSystemClient
    from chromadb.config import Settings

    SharedSystemClient.clear_system_cache()
    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))


def exact_top(x: np.ndarray, q: np.ndarray, k: int, rows: np.ndarray | None) -> np.ndarray:
    """Row numbers of the exact top k by cosine (vectors are normalised)."""
    pool = x if rows is None else x[rows]
    s = pool @ q
    k = min(k, len(s))
    top = np.argpartition(-s, k - 1)[:k]
    top = top[np.argsort(-s[top])]
    return top if rows is None else rows[top]


def percentile_ms(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)) * 1000, 2)


def case_row(k: int, filt: str | None, recalls: list[float], lat: list[float]) -> dict:
    """One case's JSON: recall (mean and worst query) and latency."""
    return {
        "k": k,
        "filter": filt or "none",
        "recall": round(float(np.mean(recalls)), 4),
        "recall_min": round(float(np.min(recalls)), 3),
        "p50_ms": percentile_ms(lat, 50),
        "p95_ms": percentile_ms(lat, 95),
    }


def measure(search, x, queries, cases, subsets) -> list[dict]:
    """Recall@k and latency of `search(q, k, filt)` for each (k, filter) case."""
    rows = []
    for k, filt in cases:
        sub = subsets.get(filt)
        recalls, lat = [], []
        for q in queries:
            want = set(exact_top(x, q, k, sub).tolist())
            t = time.perf_counter()
            got = search(q, k, filt)
            lat.append(time.perf_counter() - t)
            recalls.append(len(want & set(got)) / len(want))
        rows.append(case_row(k, filt, recalls, lat))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def self_misses(search, x, subsets, n: int, seed: int = 1) -> int:
    """Stored vectors of the 10% subset, each queried under that filter, that do not come back first."""
    rng = np.random.default_rng(seed)
    sub = subsets["ids10"]
    misses = 0
    for row in rng.choice(sub, min(n, len(sub)), replace=False):
        got = search(x[row], 1, "ids10")
        misses += not got or got[0] != int(row)
    return misses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=("scifact", "synthetic", "uniform"), default="scifact")
    ap.add_argument("--size", type=int, default=100_000, help="synthetic vectors")
    ap.add_argument("--queries", type=int, default=100, help="queries per case (SciFact has 300 test claims)")
    ap.add_argument("--beir", default=str(SCIFACT))
    ap.add_argument("--cache", default=str(ROOT / ".bench-scifact" / "hnsw-recall"))
    ap.add_argument("--settings", default="16:100:100,16:100:200,16:100:400,16:100:800,32:200:400",
                    help="max_neighbors:ef_construction:ef_search triples (16:100:100 is Chroma's default)")
    ap.add_argument("--skip-ragkit", action="store_true", help="no before/after rows")
    ap.add_argument("--out")
    args = ap.parse_args()

    base, scifact_queries = scifact_vectors(Path(args.beir), Path(args.cache))
    if args.data == "scifact":
        x, queries = base, scifact_queries[: args.queries]
    elif args.data == "uniform":
        x, queries = uniform_vectors(args.size, args.queries)
    else:
        x, queries = synthetic_vectors(base, args.size, args.queries)
    n = len(x)
    ids = [f"c{i}" for i in range(n)]
    rng = np.random.default_rng(7)
    subsets = {None: None}
    for name, frac in (("10", 0.10), ("1", 0.01)):
        rows = np.sort(rng.choice(n, max(1, int(n * frac)), replace=False))
        subsets[f"ids{name}"] = subsets[f"where{name}"] = rows
    tag = np.zeros(n, dtype=int)
    tag[subsets["ids10"]] += 1
    tag[subsets["ids1"]] += 2
    metas = [{"tag": int(t)} for t in tag]  # 1 or 3: in the 10% subset; 2 or 3: in the 1% subset
    wheres = {"where10": {"tag": {"$in": [1, 3]}}, "where1": {"tag": {"$in": [2, 3]}}}
    id_lists = {f: [ids[i] for i in subsets[f]] for f in ("ids10", "ids1")}
    cases = [(10, None), (100, None)]
    # k = 1000 also where the filter holds fewer chunks: then every one of them must come back
    cases += [(k, f) for f in ("ids10", "where10", "ids1", "where1") for k in (10, 100, 1000)]
    row_of = {cid: i for i, cid in enumerate(ids)}

    tmp = Path(tempfile.mkdtemp(prefix="hnsw-recall-"))
    results = []
    try:
        builds: dict[tuple[int, int], float] = {}
        for triple in args.settings.split(","):
            m, efc, ef = (int(v) for v in triple.split(":"))
            name = f"m{m}-efc{efc}"
            if (m, efc) not in builds:
                col = client_at(tmp).create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine", "max_neighbors": m, "ef_construction": efc}},
                    embedding_function=None,
                )
                t = time.perf_counter()
                batch = 5000
                for i in range(0, n, batch):
                    col.upsert(ids=ids[i : i + batch], embeddings=x[i : i + batch], metadatas=metas[i : i + batch])
                builds[(m, efc)] = round(time.perf_counter() - t, 1)
            client_at(tmp).get_collection(name).modify(configuration={"hnsw": {"ef_search": ef}})
            col = client_at(tmp).get_collection(name)

            def search(q, k, filt, col=col):
                kw = {}
                if filt and filt.startswith("ids"):
                    kw["ids"] = id_lists[filt]
                elif filt:
                    kw["where"] = wheres[filt]
                res = col.query(query_embeddings=[q], n_results=k, include=["distances"], **kw)
                return [row_of[c] for c in res["ids"][0]]

            label = f"chroma M={m} ef_construction={efc} ef_search={ef}" + (" (Chroma's default)" if (m, efc, ef) == (16, 100, 100) else "")
            print(label, file=sys.stderr)
            results.append(
                {
                    "setting": label,
                    "build_s": builds[(m, efc)],
                    "self_miss": self_misses(search, x, subsets, 200),
                    "cases": measure(search, x, queries, cases, subsets),
                }
            )
        if not args.skip_ragkit:
            results.extend(before_after(tmp, x, ids, metas, queries, cases, subsets, id_lists, wheres, row_of))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    out = {
        "benchmark": "hnsw_recall",
        "date": dt.date.today().isoformat(),
        "data": args.data,
        "vectors": n,
        "dimension": int(x.shape[1]),
        "queries": len(queries),
        "filters": {"ids10/where10": len(subsets["ids10"]), "ids1/where1": len(subsets["ids1"])},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, no GPU",
        "chromadb": __import__("chromadb").__version__,
        "results": results,
    }
    text = json.dumps(out, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


def before_after(tmp, x, ids, metas, queries, cases, subsets, id_lists, wheres, row_of) -> list[dict]:
    """The code before (a collection with Chroma's defaults, asked for k results) and ragkit's
    ChromaIndex now, each query asked of both in turn so that other load on the machine falls on both."""
    from ragkit.storage.chroma_index import ChromaIndex

    builds = {}
    t = time.perf_counter()
    old = client_at(tmp).create_collection("before", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    for i in range(0, len(ids), 5000):
        old.upsert(ids=ids[i : i + 5000], embeddings=x[i : i + 5000], metadatas=metas[i : i + 5000])
    builds["before"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    ChromaIndex(client_at(tmp), "after").upsert(ids, x, metas)
    builds["after"] = round(time.perf_counter() - t, 1)
    client = client_at(tmp)
    old, index = client.get_collection("before"), ChromaIndex(client, "after")

    def before(q, k, filt):
        kw = {"ids": id_lists[filt]} if filt and filt.startswith("ids") else {"where": wheres[filt]} if filt else {}
        return [row_of[c] for c in old.query(query_embeddings=[q], n_results=k, include=["distances"], **kw)["ids"][0]]

    def after(q, k, filt):
        kw = {"ids": id_lists[filt]} if filt and filt.startswith("ids") else {"where": wheres[filt]} if filt else {}
        return [row_of[h.chunk_id] for h in index.search(q, k, **kw)]

    rows = {name: [] for name in ("before", "after")}
    for k, filt in cases:
        sub = subsets.get(filt)
        got = {name: ([], []) for name in rows}
        for q in queries:
            want = set(exact_top(x, q, k, sub).tolist())
            for name, search in (("before", before), ("after", after)):
                t = time.perf_counter()
                hits = search(q, k, filt)
                got[name][1].append(time.perf_counter() - t)
                got[name][0].append(len(want & set(hits)) / len(want))
        for name, (recalls, lat) in got.items():
            rows[name].append(case_row(k, filt, recalls, lat))
        print(json.dumps({"k": k, "filter": filt, "before": rows["before"][-1], "after": rows["after"][-1]}), file=sys.stderr, flush=True)
    labels = {
        "before": "before: ragkit's old ChromaIndex (Chroma's defaults, n_results = k)",
        "after": "after: ragkit ChromaIndex.search",
    }
    searches = {"before": before, "after": after}
    return [
        {"setting": labels[n], "build_s": builds[n], "self_miss": self_misses(searches[n], x, subsets, 200), "cases": rows[n]}
        for n in rows
    ]


if __name__ == "__main__":
    main()
