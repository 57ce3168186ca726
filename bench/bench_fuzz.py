"""A long fuzz campaign against a real server over HTTP: hostile arguments for every tool
(the generator of `tests/test_fuzz.py`), counted by outcome, with the server's resident
memory sampled after every round so that growth under sustained load shows.

    python bench/bench_fuzz.py [--rounds 10] [--per-tool 60]

Prints calls, accepted, refused with a clear error, internal errors, hangs (no answer in
60 s), whether the server died, and the RSS before, after each round and at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, Phase, given, settings
from mcp import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.hostile import arguments_for, is_internal_error  # noqa: E402

TOOLS = ["remember", "recall", "reflect", "forget", "link", "submit_trajectory",
         "find_procedures", "report_outcome"]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_server(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    habitus = Path(sys.executable).parent / "habitus"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HABITUS_")}
    env.update(LANCE_LOG="error", HABITUS_HOOKS_DAEMON="0",
               HABITUS_PLUGINS_DIR=str(db.parent / "plugins"))
    proc = subprocess.Popen([str(habitus), "--db", str(db), "serve", "--transport", "http",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(db.parent / "server.log", "wb"))  # noqa: SIM115
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}/mcp"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def fuzz(tool: str, schema: dict[str, Any], call: Any, examples: int) -> None:
    """`examples` calls of `tool` with generated arguments."""

    @settings(max_examples=examples, deadline=None, database=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(arguments_for(schema))
    def run(arguments: dict[str, Any]) -> None:
        call(tool, arguments)

    run()


def caches_mb(db: Path) -> float:
    """What the server holds for the store in caches, as `habitus stats` reports it (the
    command goes through the running server)."""
    out = subprocess.run([str(Path(sys.executable).parent / "habitus"), "--db", str(db),
                          "stats", "--json"], capture_output=True, text=True, timeout=60)
    return float(json.loads(out.stdout).get("cache_mb", 0.0)) if out.returncode == 0 else -1.0


def campaign(url: str, pid: int, db: Path, rounds: int, per_tool: int) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    samples: list[float] = []
    internal: list[str] = []
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(
        Client(url)
    ) as client:
        schemas = {t.name: t.input_schema for t in portal.call(client.list_tools).tools}

        def call(tool: str, arguments: dict[str, Any]) -> None:
            async def run() -> Any:
                with anyio.fail_after(60):
                    return await client.call_tool(tool, arguments)

            try:
                result = portal.call(run)
            except TimeoutError:
                outcomes["hang"] += 1
                return
            except Exception as exc:  # the connection or the server went away
                outcomes[f"transport error: {type(exc).__name__}"] += 1
                return
            text = " ".join(getattr(c, "text", "") for c in result.content)
            internal_error = is_internal_error(text)
            if internal_error:
                internal.append(f"{tool}({json.dumps(arguments)[:300]}) → {text[:300]}")
            outcomes["internal error" if internal_error
                     else "refused" if result.is_error else "accepted"] += 1

        for i in range(5):
            call("remember", {"content": f"fuzz seed fact {i}: port 80{i} is the proxy"})
        call("recall", {"query": "proxy port"})
        samples.append(rss_mb(pid))
        print(f"RSS after warm-up: {samples[0]:.0f} MB", flush=True)
        for n in range(rounds):
            started = time.perf_counter()
            for tool in TOOLS:
                fuzz(tool, schemas[tool], call, per_tool)
            samples.append(rss_mb(pid))
            print(f"round {n + 1}: {sum(outcomes.values())} calls, RSS {samples[-1]:.0f} MB, "
                  f"store caches {caches_mb(db):.0f} MB "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    return {"outcomes": outcomes, "rss": samples, "internal": internal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-tool", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="habitus-fuzz-") as folder:
        proc, url = start_server(Path(folder) / "store")
        try:
            result = campaign(url, proc.pid, Path(folder) / "store", args.rounds, args.per_tool)
            alive = proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        log = (Path(folder) / "server.log").read_text(errors="replace")
    outcomes, rss = result["outcomes"], result["rss"]
    print(f"\n{sum(outcomes.values())} calls: " + ", ".join(
        f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(f"server alive at the end: {alive}; tracebacks in its log: {log.count('Traceback')}")
    for line in result["internal"]:
        print("  internal error:", line)
    print(f"RSS: {rss[0]:.0f} MB after warm-up, {rss[-1]:.0f} MB at the end "
          f"(max {max(rss):.0f} MB; growth over the last half "
          f"{rss[-1] - rss[len(rss) // 2]:+.0f} MB)")


if __name__ == "__main__":
    main()
