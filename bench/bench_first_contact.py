"""The first session after install: how long `habitus hook SessionStart` takes to answer with
the project's context when no server runs for the store, beside the same hook with a server
running, in one run.

Each cold trial starts from no server: the hook computes the context itself while it starts a
background server (as a real first session does), and that server is stopped before the next
trial. `--no-spawn` also times the hook with the background server turned off
(`HABITUS_HOOKS_DAEMON=0`), the hook's own cost without a second process beside it.

    python bench/bench_first_contact.py [--memories 300] [--trials 20] [--no-spawn]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from habitus.base import endpoint
from habitus.base.dirs import state_dir
from habitus.core.config import Settings
from habitus.core.models import CallContext, NewMemory
from habitus.core.project.scope import detect_scope
from habitus.lifecycle import daemon, files

KINDS = ("semantic", "procedural", "episodic")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def habitus() -> list[str]:
    exe = Path(sys.executable).parent / "habitus"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "habitus.cli"]


async def seed(db: str, repo: Path, count: int) -> None:
    """`count` memories of the project, as sessions leave them: conventions, procedures and
    episodes, one in three of each."""
    from habitus.core.service import MemoryService

    service = await MemoryService.open(Settings(db=db))
    scope = detect_scope(str(repo))
    ctx = CallContext(project_scope=scope.id, client="bench", workdir=str(repo),
                      branch=scope.branch or "", source="user")
    items = [NewMemory(content=f"{kind} note {i}: module_{i % 37} uses helper_{i % 11} for "
                       f"step {i} of the build (ticket {1000 + i})", kind=KINDS[i % 3])
             for i, kind in enumerate(KINDS[i % 3] for i in range(count))]
    for start in range(0, len(items), 100):
        await service.remember_many(items[start:start + 100], ctx=ctx)
    await service.close()


def hook(db: str, repo: Path, env: dict[str, str]) -> tuple[float, bool]:
    event = {"hook_event_name": "SessionStart", "session_id": f"s{time.time_ns()}",
             "cwd": str(repo), "source": "startup"}
    started = time.perf_counter()
    done = subprocess.run([*habitus(), "hook", "--db", db, "SessionStart"],
                          input=json.dumps(event).encode(), env=env, capture_output=True,
                          check=True, timeout=120)
    seconds = time.perf_counter() - started
    answer = json.loads(done.stdout) if done.stdout else {}
    return seconds, bool(answer.get("hookSpecificOutput", {}).get("additionalContext"))


def settle(db: str, spawned: bool) -> None:
    """No server and no spool left for the next cold trial (a server the hook started is
    waited for, then stopped)."""
    deadline = time.monotonic() + 60
    while spawned and time.monotonic() < deadline and endpoint.find(db) is None:
        time.sleep(0.1)
    daemon.stop(db)
    for path in state_dir().glob(f"*{files.store_key(db)}*"):
        path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=300)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--no-spawn", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runtime = root / "run"
        runtime.mkdir(mode=0o700)
        os.environ.update(XDG_STATE_HOME=str(root / "state"), XDG_RUNTIME_DIR=str(runtime),
                          LANCE_LOG="error")
        repo = root / "project"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        db = str(root / "store")
        anyio.run(seed, db, repo, args.memories)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HABITUS_")}
        modes = {"no server (starts one)": {**env, "HABITUS_HOOKS_DAEMON": "1"}}
        if args.no_spawn:
            modes["no server, none started"] = {**env, "HABITUS_HOOKS_DAEMON": "0"}
        times: dict[str, list[float]] = {name: [] for name in [*modes, "server running"]}
        answered: dict[str, int] = dict.fromkeys(times, 0)
        for _ in range(args.trials):
            for name, mode_env in modes.items():  # alternating, so both meet the same load
                seconds, injected = hook(db, repo, mode_env)
                times[name].append(seconds)
                answered[name] += injected
                settle(db, mode_env["HABITUS_HOOKS_DAEMON"] == "1")
        daemon.start(db, wait=120)
        hook(db, repo, env)  # the server opens the store on its first event
        for _ in range(args.trials):
            seconds, injected = hook(db, repo, env)
            times["server running"].append(seconds)
            answered["server running"] += injected
        daemon.stop(db)
    print(f"SessionStart hook, {args.memories} memories in the project, {args.trials} trials")
    print(f"{'':<26}{'p50 s':>8}{'p95 s':>8}{'max s':>8}{'context':>10}")
    for name, values in times.items():
        print(f"{name:<26}{pct(values, 0.5):>8.2f}{pct(values, 0.95):>8.2f}"
              f"{max(values):>8.2f}{answered[name]:>7}/{len(values)}")


if __name__ == "__main__":
    main()
