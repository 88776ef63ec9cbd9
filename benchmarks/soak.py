"""Soak: `ragkit bench http`'s query load held for a long time with uploads and deletes mixed in, and the server's memory watched, as JSON.

    python benchmarks/soak.py examples/corpus --seconds 600 --clients 16 --out docs/results/soak/soak.json
    python benchmarks/soak.py examples/corpus --seconds 30 --clients 8 --fakes

A `ragkit serve` on 127.0.0.1 (loopback, no auth) over a temporary home filled from PATH is
driven for --seconds by --clients clients: --clients - 1 of them send `POST /query` exactly as
`ragkit bench http` does (its own load loop, `service.bench._level`), and one writer keeps
writes at 1 in --write-every of all requests (paced by the server's own request counter at
/metrics): it uploads a small new document, and once --keep of its own documents are in,
deletes the oldest, so the collection keeps its size while its revision moves. The server's
resident memory (VmRSS in /proc/<pid>/status; `group_rss_mb` adds its parser processes) is
sampled every --sample-s seconds.

Output: `requests`, `errors` (queries and writes), `qps` (queries/s), `p50_ms`/`p99_ms` of the
queries, `writes` (uploads, deletes, their errors and latency), `rss_mb` {first, last, max},
`rss_change_pct` (first to last), `rss_change_after_warmup_pct` (from the first sample past
--warmup-fraction of the run to the last: what a leak would show), every sample, the
exceptions the server logged by type (`server_log_errors`), and the settings. --fakes runs the server and the ingest on ragkit.testing's model-free fakes.
Client and server share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from service.bench import _free_port, _level, _queries, _start_server, stop_server  # noqa: E402

QUERY_ROUTE = re.compile(r'^ragkit_http_requests_total\{[^}]*route="/v1/collections/\{c\}/query"[^}]*\}\s+([0-9.e+]+)$', re.M)
FAKES = {"RAGKIT_GENERATOR": "fake", "RAGKIT_EMBED_RUNTIME": "fake"}


def rss_mb(pid: int) -> float | None:
    """VmRSS of one process in MiB; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def group_rss_mb(pgid: int) -> float:
    """VmRSS summed over a process group (the server and the parser processes it started)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat, the process group
            total += rss_mb(int(entry)) or 0.0
    return total


EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception)): ", re.M)
HEX_ID = re.compile(r"[0-9a-f]{12,}")  # document, chunk and request ids in paths and messages
ERROR_LINE = re.compile(r"^\S+ \S+ ERROR (\S+) \[[^\]]*\] ([^:\n]{1,80})", re.M)  # the text log format


def logged_errors(log: Path) -> dict[str, int]:
    """What the server logged as errors: each traceback by its exception type, each ERROR line by its
    logger and the words before its first colon (e.g. `ragkit.service backend_error`)."""
    counts: dict[str, int] = {}
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return counts
    lines = [f"{logger} {HEX_ID.sub('{id}', what)}" for logger, what in ERROR_LINE.findall(text)]
    for name in EXCEPTION_LINE.findall(text) + lines:
        counts[name] = counts.get(name, 0) + 1
    return counts


def document(i: int, words: list[str]) -> tuple[str, bytes]:
    """A small new document for the writer: a few sentences made of the corpus's own words."""
    picked = [words[(i * 7 + j * 13) % len(words)] for j in range(60)] if words else ["soak"] * 60
    text = f"# Soak note {i}\n\nSoak note {i} was written at request {i}. " + " ".join(picked) + ".\n"
    return f"soak-note-{i:06d}.md", text.encode()


def commit() -> str | None:
    """The checkout's commit, with `+dirty` when it has changes; None outside git."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if head and dirty else head or None


def default_runtime() -> str:
    """The embedding runtime a plain `ragkit serve` uses here (settings and environment)."""
    from ragkit.settings import load_settings

    return load_settings().embed_runtime


def percentile(values: list[float], p: float) -> float | None:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 2) if values else None


async def _writer(base: str, collection: str, stop_at: float, write_every: int, keep: int, words: list[str]) -> dict:
    """Keep writes at 1 in `write_every` requests: upload a new document, or delete the oldest of ours."""
    import httpx

    from ragkit.fingerprints import doc_id_for

    uploads = deletes = errors = 0
    latencies: list[float] = []
    ours: list[str] = []
    made = 0
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        while time.perf_counter() < stop_at:
            try:
                found = QUERY_ROUTE.findall((await client.get("/metrics")).text)
                queries = sum(float(x) for x in found)
            except httpx.HTTPError:
                queries = 0
            due = int(queries // (write_every - 1)) - (uploads + deletes + errors)
            if due <= 0:
                await asyncio.sleep(0.1)
                continue
            t0 = time.perf_counter()
            try:
                if len(ours) >= keep and (uploads + deletes) % 2 == 1:
                    source = ours.pop(0)
                    r = await client.delete(f"/v1/collections/{collection}/documents/{doc_id_for(collection, source)}")
                    ok = r.status_code == 200
                    deletes += ok
                else:
                    name, data = document(made, words)
                    made += 1
                    r = await client.post(f"/v1/collections/{collection}/documents", files=[("files", (name, data, "text/markdown"))])
                    ok = r.status_code == 200 and r.json().get("added") == 1
                    if ok:
                        uploads += 1
                        ours.append(name)
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1
    return {"uploads": uploads, "deletes": deletes, "errors": errors, "p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99)}


async def _sampler(pid: int, stop_at: float, every: float, started: float) -> list[list[float]]:
    """[seconds since the load began, server RSS MiB, process group RSS MiB] every `every` seconds."""
    samples = []
    while True:
        now = time.perf_counter()
        rss = rss_mb(pid)
        if rss is not None:
            samples.append([round(now - started, 1), round(rss, 1), round(group_rss_mb(pid), 1)])
        if now >= stop_at:
            return samples
        await asyncio.sleep(min(every, max(0.0, stop_at - now)))


async def _drive(port: int, pid: int, collection: str, queries: list[str], clients: int, seconds: float, write_every: int, keep: int, k: int, sample_s: float) -> tuple[dict, dict, list]:
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    stop_at = started + seconds
    words = sorted({w for q in queries for w in q.split() if w.isalpha() and len(w) > 3})
    level, writes, samples = await asyncio.gather(
        _level(f"{base}/v1/collections/{collection}/query", queries, max(1, clients - 1), seconds, 10**9, k),
        _writer(base, collection, stop_at, write_every, keep, words),
        _sampler(pid, stop_at, sample_s, started),
    )
    return level, writes, samples


def soak(
    paths: list[Path],
    *,
    seconds: float = 600,
    clients: int = 16,
    write_every: int = 20,
    keep: int = 20,
    k: int = 10,
    sample_s: float = 5,
    warmup_fraction: float = 0.1,
    fakes: bool = False,
    collection: str = "soak",
    server_log: Path | None = None,
) -> dict:
    """Run the soak (see the module docstring) and return its figures."""
    if clients < 2:
        raise ValueError("--clients must be at least 2: one of them is the writer")
    if write_every < 2:
        raise ValueError("--write-every must be at least 2")
    saved = {k: os.environ.get(k) for k in FAKES}
    if fakes:
        os.environ.update(FAKES)  # the ingest here and the server (which inherits the environment)
    try:
        with tempfile.TemporaryDirectory(prefix="ragkit-soak-") as tmp:
            home = Path(tmp) / "home"
            import ragkit

            t0 = time.perf_counter()
            with ragkit.open(home) as kb:
                report = kb.collection(collection).ingest(paths)
            ingest_s = time.perf_counter() - t0
            queries = _queries(home, collection)
            port = _free_port()
            proc = _start_server(home, port, Path(tmp) / "server.log")
            try:
                level, writes, samples = asyncio.run(_drive(port, proc.pid, collection, queries, clients, seconds, write_every, keep, k, sample_s))
                alive = proc.poll() is None
            finally:
                stop_server(proc)
                logged = logged_errors(Path(tmp) / "server.log")
                if server_log is not None:
                    shutil.copyfile(Path(tmp) / "server.log", server_log)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    rss = [s[1] for s in samples]
    after_warmup = next((s[1] for s in samples if s[0] >= warmup_fraction * seconds), rss[-1] if rss else None)

    def change(a, b):
        return round((b - a) / a * 100, 2) if a and b is not None else None

    writes_total = writes["uploads"] + writes["deletes"] + writes["errors"]
    return {
        "route": "POST /v1/collections/{c}/query, with POST .../documents and DELETE .../documents/{doc_id} mixed in",
        "requests": level["requests"] + writes_total,
        "errors": level["errors"] + writes["errors"],
        "qps": level["qps"],
        "p50_ms": level["p50_ms"],
        "p99_ms": level["p99_ms"],
        "queries": {"requests": level["requests"], "errors": level["errors"], "clients": level["concurrency"], "seconds": level["seconds"]},
        "writes": {**writes, "fraction": round(writes_total / max(1, level["requests"] + writes_total), 4)},
        "rss_mb": {"first": rss[0] if rss else None, "last": rss[-1] if rss else None, "max": max(rss) if rss else None, "after_warmup": after_warmup},
        "rss_change_pct": change(rss[0] if rss else None, rss[-1] if rss else None),
        "rss_change_after_warmup_pct": change(after_warmup, rss[-1] if rss else None),
        "group_rss_mb": {"first": samples[0][2] if samples else None, "last": samples[-1][2] if samples else None, "max": max(s[2] for s in samples) if samples else None},
        "samples": samples,
        "server_alive_at_end": alive,
        "server_log_errors": logged,
        "corpus": {"paths": [str(p) for p in paths], "documents": report.added, "chunks": report.chunks_added, "queries": len(queries), "ingest_s": round(ingest_s, 1)},
        "settings": {"seconds": seconds, "clients": clients, "write_every": write_every, "keep": keep, "k": k, "sample_s": sample_s, "warmup_fraction": warmup_fraction},
        "models": "fakes (ragkit.testing)" if fakes else f"default ({default_runtime()} embedding runtime, the bundled MiniLM; the query route does not generate)",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(), "load_after": os.getloadavg()[0]},
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit(),
        "note": "client and server share this machine; RSS is the server process's (group_rss_mb adds its parser processes)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="files or folders to ingest into the temporary home")
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients in all (one is the writer)")
    parser.add_argument("--write-every", type=int, default=20, help="one request in this many is an upload or a delete")
    parser.add_argument("--keep", type=int, default=20, help="the writer's documents kept before it deletes the oldest")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--sample-s", type=float, default=5)
    parser.add_argument("--warmup-fraction", type=float, default=0.1)
    parser.add_argument("--fakes", action="store_true", help="the model-free fakes instead of the default models")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--server-log", type=Path, help="keep a copy of the server's log here")
    args = parser.parse_args(argv)
    result = soak(
        args.paths, seconds=args.seconds, clients=args.clients, write_every=args.write_every, keep=args.keep, k=args.k,
        sample_s=args.sample_s, warmup_fraction=args.warmup_fraction, fakes=args.fakes, server_log=args.server_log,
    )
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
