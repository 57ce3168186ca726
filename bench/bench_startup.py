"""Start-up of `habitus serve` over stdio, as real clients see it, and how fast it leaves.

Each spawn is timed from spawning the server to `initialize` answered (in the stateless era:
`server/discover`), to `tools/list` answered and to the first `tools/call` (a recall, which
waits for the store and the embedder) answered, with three clients: the MCP SDK's Python client
in the handshake era (as assistants connect today), the same client in its default mode
(stateless era first) and, when node and tests/js/node_modules are there, the TypeScript SDK
client. Then: seconds from SIGINT, and from SIGTERM, to exit, right after a remember was
acknowledged (the store has a commit to finish) and when idle (a second and a half later).

With `--baseline REF` the code at git revision REF (e.g. the commit before a change) is
measured the same way, spawn for spawn alternating with the working tree, so both see the same
machine; ratios are new / old. The baseline runs from an extracted copy of REF with this
checkout's virtualenv.

    python bench/bench_startup.py [--runs 20] [--signal-runs 10] [--baseline REF]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.servers import habitus_command, server_env  # noqa: E402

STARTUP_JS = ROOT / "tests" / "js" / "startup.mjs"
SIGNAL_CAP = 5.0  # seconds to wait for an exit after a signal before killing the server
LAUNCH = ("import sys; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'habitus'; "
          "from habitus.cli import main; main()")


@dataclass
class Variant:
    """One version of habitus: how to start its `habitus` command."""

    name: str
    command: list[str]
    db: Path
    times: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))

    def serve(self) -> list[str]:
        return [*self.command, "--db", str(self.db), "serve"]


def baseline_command(ref: str, folder: Path) -> list[str]:
    """A `habitus` command running the code at git revision `ref`, laid out as the package."""
    archive = folder / "src.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref], stdout=out, check=True)
    source = folder / "src"
    with tarfile.open(archive) as tar:
        tar.extractall(source, filter="data")
    config = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    package = folder / "pkg" / "habitus"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    for name, path in config["tool"]["setuptools"]["package-dir"].items():
        if name.count(".") == 1:
            (package / name.split(".")[1]).symlink_to(source / path, target_is_directory=True)
    return [sys.executable, "-c", LAUNCH, str(folder / "pkg")]


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def python_client(variant: Variant, mode: str, env: dict[str, str]) -> list[float]:
    cmd = variant.serve()
    params = StdioServerParameters(command=cmd[0], args=cmd[1:], env=env)
    started = time.perf_counter()
    async with Client(params, mode=mode) as client:  # type: ignore[arg-type]
        hello = time.perf_counter() - started
        await client.list_tools()
        listed = time.perf_counter() - started
        await client.call_tool("recall", {"query": "start-up"})
        called = time.perf_counter() - started
    return [hello, listed, called]


def node_client(variant: Variant, env: dict[str, str]) -> list[float]:
    out = subprocess.run(["node", str(STARTUP_JS), *variant.serve()], env=env,
                         cwd=STARTUP_JS.parent, capture_output=True, text=True, timeout=300,
                         check=True)
    data = json.loads(out.stdout)
    return [data["initialize"], data["tools_list"], data["first_call"]]


def signal_exit(variant: Variant, signum: int, pause: float, env: dict[str, str]) -> float:
    """Seconds from `signum` to exit, sent `pause` seconds after a remember was acknowledged
    (infinite when the server was still there after SIGNAL_CAP, then killed)."""
    proc = subprocess.Popen(variant.serve(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    hello = {"protocolVersion": "2025-11-25", "capabilities": {},
             "clientInfo": {"name": "bench", "version": "1"}}
    messages = [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello},
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                 "params": {"name": "remember",
                            "arguments": {"content": f"Signal bench note {time.time_ns()}."}}}]
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages).encode())
    proc.stdin.flush()
    for line in proc.stdout:  # until the remember is acknowledged
        if json.loads(line).get("id") == 2:
            break
    time.sleep(pause)
    started = time.perf_counter()
    proc.send_signal(signum)
    try:
        proc.wait(timeout=SIGNAL_CAP)
        took = time.perf_counter() - started
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        took = math.inf
    proc.stdin.close()
    proc.stdout.close()
    return took


STEPS = ("initialize", "tools/list", "first call")
PAUSES = {"right after a write": 0.0, "idle": 1.5}


def report(variants: list[Variant], runs: int, signal_runs: int) -> None:
    old, new = (variants[0], variants[-1]) if len(variants) == 2 else (None, variants[0])
    names = " vs ".join(v.name for v in variants)
    print(f"\nspawn -> answered, seconds, {runs} spawns per client and version ({names})")
    head = f"{'client':<16}{'step':<12}"
    for v in variants:
        head += f"{v.name + ' p50':>14}{v.name + ' p95':>14}"
    if old:
        head += f"{'p50 ratio':>11}{'p95 ratio':>11}"
    print(head)
    clients = sorted({client for client, step in new.times if step == "spawn"})
    for client in clients:
        for step_index, step in enumerate(STEPS):
            line = f"{client:<16}{step:<12}"
            for v in variants:
                values = [t[step_index] for t in v.times[(client, "spawn")]]
                line += f"{percentile(values, 0.5):>14.3f}{percentile(values, 0.95):>14.3f}"
            if old:
                o = [t[step_index] for t in old.times[(client, "spawn")]]
                n = [t[step_index] for t in new.times[(client, "spawn")]]
                line += f"{percentile(n, 0.5) / percentile(o, 0.5):>11.2f}"
                line += f"{percentile(n, 0.95) / percentile(o, 0.95):>11.2f}"
            print(line)
    if signal_runs:
        print(f"\nsignal -> exit, seconds, {signal_runs} each (inf: still running after "
              f"{SIGNAL_CAP:.0f} s, then killed)")
        for when in PAUSES:
            for name in ("SIGINT", "SIGTERM"):
                for v in variants:
                    values = [t[0] for t in v.times[(name, when)]]
                    stuck = sum(math.isinf(x) for x in values)
                    print(f"{name:<8}{when:<22}{v.name:<5} p50 {percentile(values, 0.5):.3f}  "
                          f"p95 {percentile(values, 0.95):.3f}  max {max(values):.3f}  "
                          f"did not exit: {stuck}/{len(values)}")


async def main(runs: int, signal_runs: int, baseline: str | None) -> None:
    node = shutil.which("node") and (STARTUP_JS.parent / "node_modules").is_dir()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = server_env(HABITUS_PLUGINS="builtin", HABITUS_CACHE_DIR=str(folder / "cache"))
        variants = []
        if baseline:
            variants.append(Variant("old", baseline_command(baseline, folder), folder / "old"))
        variants.append(Variant("new", habitus_command(), folder / "new"))
        for v in variants:  # create the stores and warm the file cache; not counted
            await python_client(v, "legacy", env)
        clients = ["python legacy", "python auto", *(["typescript"] if node else [])]
        for run in range(runs):
            order = variants if run % 2 == 0 else variants[::-1]
            for client in clients:
                for v in order:
                    if client == "typescript":
                        times = node_client(v, env)
                    else:
                        times = await python_client(v, client.split()[1], env)
                    v.times[(client, "spawn")].append(times)
            print(f"run {run + 1}/{runs} done", file=sys.stderr, flush=True)
        for run in range(signal_runs):
            order = variants if run % 2 == 0 else variants[::-1]
            for when, pause in PAUSES.items():
                for signum in (signal.SIGINT, signal.SIGTERM):
                    for v in order:
                        took = signal_exit(v, signum, pause, env)
                        v.times[(signal.Signals(signum).name, when)].append([took])
        report(variants, runs, signal_runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="spawns per client and version")
    parser.add_argument("--signal-runs", type=int, default=10,
                        help="SIGINT and SIGTERM exits timed per version")
    parser.add_argument("--baseline", metavar="REF", help="git revision to compare with")
    args = parser.parse_args()
    os.environ.setdefault("LANCE_LOG", "error")
    anyio.run(main, args.runs, args.signal_runs, args.baseline)
