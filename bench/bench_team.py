"""A team's store: several habitus servers writing and recalling at once, on a local folder and
on object storage (moto's S3 stand-in on loopback), side by side in one run.

Each of `--servers` HTTP servers (real processes) is driven by its own MCP client, which
alternates `remember` (a distinct fact) and `recall`; all of them at once. Printed per
backend: remember and recall p50 / p95 over every call, and the ratios of object storage to
local disk. With `--kill`, one server is killed (SIGKILL) in the middle of its burst: every
memory any server acknowledged must then be in the store exactly once. LanceDB's own floors
against the same stand-in and the same disk come last, through LanceDB's API alone on a table
of their own: one append commit, one query, and appends from as many processes at once as there
are servers (what optimistic commits cost when they contend).

    python bench/bench_team.py [--servers 4] [--calls 40] [--kill]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import lancedb
import pyarrow as pa
from mcp import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.object_store import StandIn, moto_missing, s3_stand_in  # noqa: E402
from tests.servers import free_port, habitus_command, server_env  # noqa: E402

SCOPE = "repo:example.com/team/app"
TOPICS = ["the deploy script", "the billing job", "the search index", "the auth service",
          "the CI pipeline", "the cache", "the parser", "the scheduler"]


FLOOR_SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("text", pa.string())])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@contextmanager
def server(db: str, env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`habitus serve --transport http` on a free port; yields its URL and process."""
    port = free_port()
    with open(log, "ab") as sink:
        proc = subprocess.Popen(
            [*habitus_command(), "--db", db, "serve", "--transport", "http", "--port",
             str(port)], env=server_env(**env), stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"a server exited; see {log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp", proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def drive(
    url: str, name: str, calls: int, acknowledged: dict[str, str], times: dict[str, list[float]],
    kill: subprocess.Popen | None,
) -> None:
    """Alternate remember and recall `calls` times each; with `kill`, SIGKILL that server
    halfway, while a remember is under way (its calls then fail, and its client stops)."""
    try:
        async with Client(url) as client:
            await client.call_tool("recall", {"query": "warm up", "scope": SCOPE})
            for i in range(calls):
                if kill is not None and i == calls // 2:
                    threading.Timer(random.uniform(0.005, 0.08), os.kill,
                                    (kill.pid, signal.SIGKILL)).start()
                await one_round(client, name, i, acknowledged, times)
    except Exception:  # the killed server's client: what it acknowledged is counted
        if kill is None:
            raise


async def one_round(client: Client, name: str, i: int, acknowledged: dict[str, str],
                    times: dict[str, list[float]]) -> None:
    content = (f"{name} noted that {TOPICS[i % len(TOPICS)]} module_{name}_{i} reads "
               f"its settings from path/{name}/{i}.toml (ticket T-{name}-{i})")
    started = time.perf_counter()
    result = await client.call_tool("remember", {"content": content, "scope": SCOPE})
    if result.is_error:
        raise RuntimeError(result.content)
    times["remember"].append(time.perf_counter() - started)
    acknowledged[result.structured_content["id"]] = content
    started = time.perf_counter()
    found = await client.call_tool(
        "recall", {"query": f"settings of {TOPICS[(i + 3) % len(TOPICS)]} module",
                   "scope": SCOPE, "limit": 5})
    if found.is_error:
        raise RuntimeError(found.content)
    times["recall"].append(time.perf_counter() - started)


async def burst(urls: list[str], procs: list[subprocess.Popen], calls: int, kill: bool
                ) -> tuple[dict[str, list[float]], dict[str, str]]:
    times: dict[str, list[float]] = {"remember": [], "recall": []}
    acknowledged: dict[str, str] = {}
    async with anyio.create_task_group() as tasks:
        for n, url in enumerate(urls):
            victim = procs[n] if kill and n == len(urls) - 1 else None
            tasks.start_soon(drive, url, f"s{n}", calls, acknowledged, times, victim)
    return times, acknowledged


async def verify(db: str, options: dict[str, str] | None, acknowledged: dict[str, str]) -> str:
    """Every acknowledged memory in the store exactly once, and journaled, read by a process
    of its own."""
    from habitus.core.storage_options import effective_storage_options
    from habitus.store import Store

    store = await Store.open(db, storage_options=effective_storage_options(db, options))
    try:
        rows = await store.scan(store.where.memories.eq("scope", SCOPE),
                                columns=["id", "content"])
        journaled = {i for r in await store.read_journal(store.where.journal.eq("op", "remember"),
                                                          limit=1_000_000) for i in r["ids"]}
    finally:
        await store.close()
    by_content: dict[str, int] = {}
    for row in rows:
        by_content[row["content"]] = by_content.get(row["content"], 0) + 1
    ids = {row["id"] for row in rows}
    lost = [i for i in acknowledged if i not in ids]
    doubled = [c for c, n in by_content.items() if n > 1]
    unjournaled = [i for i in acknowledged if i not in journaled]
    return (f"{len(acknowledged)} acknowledged, {len(rows)} stored, {len(lost)} lost, "
            f"{len(doubled)} duplicated, {len(unjournaled)} without their journal entry")


def run_backend(label: str, db: str, env: dict[str, str], options: dict[str, str] | None,
                servers: int, calls: int, kill: bool, logs: Path) -> dict[str, Any]:
    anyio.run(verify, db, options, {}, backend="asyncio")  # made once, as the README says
    with ExitStack() as stack:
        started = [stack.enter_context(server(
            db, {**env, "HABITUS_AUTHOR": f"member {n} <m{n}@example.com>"},
            logs / f"{label}-{n}.log")) for n in range(servers)]
        urls, procs = [u for u, _ in started], [p for _, p in started]
        began = time.perf_counter()
        times, acknowledged = anyio.run(burst, urls, procs, calls, kill, backend="asyncio")
        wall = time.perf_counter() - began
    check = anyio.run(verify, db, options, acknowledged, backend="asyncio")
    print(f"{label:>6}: remember p50 {pct(times['remember'], .5):6.1f} ms p95 "
          f"{pct(times['remember'], .95):6.1f} ms | recall p50 {pct(times['recall'], .5):6.1f} "
          f"ms p95 {pct(times['recall'], .95):6.1f} ms | {wall:.1f} s | {check}", flush=True)
    return {"times": times, "check": check}


async def floors(uri: str, options: dict[str, str] | None, n: int) -> tuple[float, float]:
    """LanceDB alone: p50 of one single-row append commit and of one query reading the latest
    version (the way a server on a local disk reads: a version check each time)."""
    db = await lancedb.connect_async(uri, storage_options=options,
                                     read_consistency_interval=timedelta(0))
    table = await db.create_table("floor", schema=FLOOR_SCHEMA, mode="overwrite")
    appends, queries = [], []
    for i in range(n):
        started = time.perf_counter()
        await table.add([{"id": str(i), "text": f"floor row {i}"}])
        appends.append(time.perf_counter() - started)
    for i in range(n):
        started = time.perf_counter()
        await table.query().where(f"id = '{i}'").limit(1).to_list()
        queries.append(time.perf_counter() - started)
    return statistics.median(appends) * 1000, statistics.median(queries) * 1000


def append_worker(uri: str, options: dict[str, str] | None, n: int, tag: str) -> list[float]:
    """One process appending `n` single rows to the table `floor` (in a process pool)."""
    async def run() -> list[float]:
        db = await lancedb.connect_async(uri, storage_options=options)
        table = await db.open_table("floor")
        times = []
        for i in range(n):
            started = time.perf_counter()
            await table.add([{"id": f"{tag}-{i}", "text": f"row {i} of {tag}"}])
            times.append(time.perf_counter() - started)
        return times

    return anyio.run(run, backend="asyncio")


def contended(uri: str, options: dict[str, str] | None, writers: int, n: int) -> list[float]:
    """Append commit times with `writers` processes appending to one table at once."""
    with ProcessPoolExecutor(writers, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [pool.submit(append_worker, uri, options, n, f"w{k}") for k in range(writers)]
        return [t for job in jobs for t in job.result()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--calls", type=int, default=40, help="remembers (and recalls) each")
    parser.add_argument("--kill", action="store_true",
                        help="SIGKILL one server halfway through its burst")
    args = parser.parse_args()
    missing = moto_missing()
    if missing:
        sys.exit(missing)
    with tempfile.TemporaryDirectory() as tmp, s3_stand_in() as s3:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        # The servers' deferred logs and published addresses stay in the run's folder (the
        # servers inherit this; the check below, like any habitus opening the store after a
        # kill, commits what the killed server deferred).
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")
        os.environ["XDG_RUNTIME_DIR"] = str(Path(tmp) / "run")
        (Path(tmp) / "run").mkdir(mode=0o700)
        os.environ["HABITUS_HOOKS_DAEMON"] = "0"
        print(f"{args.servers} servers x {args.calls} remember + {args.calls} recall each, "
              f"at once{'; one killed halfway' if args.kill else ''} (server logs: {logs})")
        local = run_backend("local", str(Path(tmp) / "store"), {}, None, args.servers,
                            args.calls, args.kill, logs)
        remote = run_backend("s3", s3.uri("team"), s3.env(), s3.options, args.servers,
                             args.calls, args.kill, logs)
        for op, target in (("remember", 4), ("recall", 2)):
            ratio = statistics.median(remote["times"][op]) / statistics.median(
                local["times"][op])
            print(f"{op} p50 s3 / local: {ratio:.2f} (target <= {target})")
        print_floors(s3, Path(tmp), args.servers)


def print_floors(s3: StandIn, tmp: Path, writers: int) -> None:
    from habitus.core.storage_options import effective_storage_options

    s3_options = effective_storage_options(s3.uri("floors"), s3.options)
    found: dict[str, dict[str, float]] = {}
    for label, uri, options in (("local", str(tmp / "floors"), None),
                                ("s3", s3.uri("floors"), s3_options)):
        append, query = anyio.run(floors, uri, options, 50, backend="asyncio")
        shared = contended(uri, options, writers, 25)
        found[label] = {"append_p50": append, "query_p50": query,
                        "contended_append_p50": pct(shared, .5),
                        "contended_append_p95": pct(shared, .95)}
        print(f"LanceDB alone, {label:>5}: append commit p50 {append:5.1f} ms, query p50 "
              f"{query:5.1f} ms; {writers} processes appending at once: p50 "
              f"{pct(shared, .5):6.1f} ms p95 {pct(shared, .95):7.1f} ms", flush=True)
    print(json.dumps({k: {m: round(v, 1) for m, v in d.items()} for k, d in found.items()}))


if __name__ == "__main__":
    main()
