"""`ragkit bench http`: load on a real server on 127.0.0.1 — queries/s and latency of /query at several concurrencies.

The benchmark starts its own `ragkit serve` (loopback only, no auth) on a home — a temporary one
filled from PATH, or `--home` — drives `POST /v1/collections/{c}/query` with N concurrent
clients for a bounded time and count per level, and stops the server by its PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ragkit.cli.common import CollectionOpt, HomeOpt, JsonOpt, run, split_list
from ragkit.errors import BackendError, UsageError


def _queries(home: Path, collection: str, n: int = 200) -> list[str]:
    """Realistic queries: the opening words of the collection's chunks."""
    import ragkit

    with ragkit.open(home) as kb:
        texts = [c.text for _, c in zip(range(n), kb.manifest.all_chunks(collection))]
    queries = [" ".join(t.split()[:8]) for t in texts if t.split()]
    if not queries:
        raise UsageError(f"collection {collection!r} in {home} has no chunks to draw queries from")
    return queries


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(home: Path, port: int, log_path: Path) -> subprocess.Popen:
    import httpx

    cmd = [sys.executable, "-m", "ragkit.cli", "serve", "--no-auth", "--host", "127.0.0.1", "--port", str(port), "--home", str(home)]
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BackendError(f"the server exited during start-up: {log_path.read_text(errors='replace')[-800:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_server(proc)
    raise BackendError("the server did not become ready within 180 s")


def stop_server(proc: subprocess.Popen, grace: float = 15) -> None:
    """Stop a server started in its own session: SIGTERM to its process group, SIGKILL after `grace` seconds."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def _level(url: str, queries: list[str], concurrency: int, seconds: float, max_requests: int, k: int) -> dict:
    # aiohttp, not httpx: the load generator shares the cores with the server, and the lighter client
    # leaves them to it (8 clients, example corpus, 2 cores: 179 and 176 queries/s against httpx's 136
    # and 105 in alternated runs, docs/results/bench-http-client-ab)
    import aiohttp

    latencies: list[float] = []
    errors = 0
    issued = 0

    async def post(session: aiohttp.ClientSession, q: str) -> bool:
        async with session.post(url, json={"query": q, "k": k}) as r:
            await r.read()
            return r.status == 200

    async def client_loop(session: aiohttp.ClientSession, stop_at: float) -> None:
        nonlocal errors, issued
        while time.perf_counter() < stop_at and issued < max_requests:
            q = queries[issued % len(queries)]
            issued += 1
            t0 = time.perf_counter()
            try:
                ok = await post(session, q)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        for q in queries[: min(4, len(queries))]:  # warm the connection pool and the server's caches
            await post(session, q)
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(session, started + seconds) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None

    return {"concurrency": concurrency, "requests": len(latencies) + errors, "errors": errors, "seconds": round(elapsed, 2), "qps": round(len(latencies) / elapsed, 2), "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


def bench_http(
    path: Annotated[Optional[Path], typer.Argument(help="Files to ingest into a temporary home (or give --home).", show_default=False)] = None,
    collection: CollectionOpt = "bench",
    concurrency: Annotated[str, typer.Option("--concurrency", help="Concurrent clients per level, comma-separated.")] = "1,8,32",
    seconds: Annotated[float, typer.Option("--seconds", min=1, max=600, help="Time per level.")] = 15,
    max_requests: Annotated[int, typer.Option("--max-requests", min=1, help="Most requests per level.")] = 5000,
    k: Annotated[int, typer.Option("-k", min=1, help="Hits per query.")] = 10,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """HTTP load on loopback: /query queries/s and p50/p99 latency at each concurrency, and the error count."""

    def action():
        levels = [int(x) for x in split_list(concurrency) or []]
        if not levels or min(levels) < 1:
            raise UsageError("--concurrency takes positive whole numbers, e.g. 1,8,32")
        if (path is None) == (home is None):
            raise UsageError("give either PATH (ingested into a temporary home) or --home (an existing one)")
        with tempfile.TemporaryDirectory(prefix="ragkit-bench-http-") as tmp:
            bench_home = home or Path(tmp) / "home"
            if path is not None:
                import ragkit

                with ragkit.open(bench_home) as kb:
                    kb.collection(collection).ingest(path)
            queries = _queries(bench_home, collection)
            port = _free_port()
            proc = _start_server(bench_home, port, Path(tmp) / "server.log")
            try:
                url = f"http://127.0.0.1:{port}/v1/collections/{collection}/query"
                results = [asyncio.run(_level(url, queries, n, seconds, max_requests, k)) for n in levels]
            finally:
                stop_server(proc)
        return {
            "route": "POST /v1/collections/{c}/query",
            "collection": collection,
            "queries": len(queries),
            "k": k,
            "seconds_per_level": seconds,
            "max_requests_per_level": max_requests,
            "levels": results,
            "errors": sum(r["errors"] for r in results),
            "cpus": os.cpu_count(),
            "note": "client and server share this machine",
        }

    def render(result):
        from rich.console import Console
        from rich.table import Table

        table = Table("clients", "requests", "errors", "queries/s", "p50 ms", "p99 ms", title=f"bench http: {result['route']}")
        for r in result["levels"]:
            table.add_row(str(r["concurrency"]), str(r["requests"]), str(r["errors"]), f"{r['qps']:.1f}", str(r["p50_ms"]), str(r["p99_ms"]))
        Console().print(table)

    run(as_json, action, render)


def register(bench_app: typer.Typer) -> None:
    bench_app.command("http")(bench_http)
