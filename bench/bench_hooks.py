"""Lifecycle hooks on real sessions: what they capture, what they inject, how fast they answer.

1. Capture: recorded sessions (the Claude Code transcript fixture and the SWE-agent
   trajectories of --swe-agent, converted to the hook events they would have produced) replayed
   through the hooks into a fresh store: memories created per 100 events, near-duplicates
   reinforced, tokens injected per session start.
2. Latency: `habitus hook EVENT` as the assistant runs it (a new process per event), with a
   server running for the store and without one (events spooled), p50 / p95 per event.
3. Relevance: what UserPromptSubmit injects, the old gate (cosine >= 0.45) beside the current
   one, on LoCoMo questions and on the coding prompt sets (bench/bench_gate.py, which runs
   this part on its own and more LoCoMo conversations).

    python bench/bench_hooks.py [--swe-agent ../shared/data/swe-agent]
        [--locomo ../shared/data/locomo/locomo10.json] [--pairs 0:1] [--latency-events 60]
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
from typing import Any

import anyio
import bench_gate

from habitus.core.config import Settings
from habitus.core.service import MemoryService
from habitus.core.text.tokens import count_tokens
from habitus.core.trajectory.actions import classify, observation_failed
from habitus.lifecycle.events import parse_event
from habitus.lifecycle.handler import Lifecycle
from habitus.lifecycle.replay import transcript_events
from habitus.plugins.manager import PluginManager
from habitus.plugins.procedural.readers import read_trajectories

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "claude_code_session.jsonl"


def trajectory_events(path: Path, *, cwd: str = "") -> list[dict[str, Any]]:
    """The hook events an agent's trajectory (SWE-agent and the other formats habitus reads)
    would have produced had it run under Claude Code: its shell actions as Bash calls, its
    edits as Edit calls on the file they name."""
    events: list[dict[str, Any]] = []
    for trajectory in read_trajectories(path):
        base = {"session_id": trajectory.id.replace("/", "-")[:100], "cwd": cwd}
        events += [{**base, "hook_event_name": "SessionStart", "source": "startup"},
                   {**base, "hook_event_name": "UserPromptSubmit", "prompt": trajectory.task}]
        current = ""
        for step in trajectory.steps:
            kind, tokens = classify(step.action)
            if kind in ("read", "create") and len(tokens) > 1:
                current = tokens[1] if kind == "read" or tokens[0] == "create" else current
            if kind in ("edit", "create"):
                target = next((t for t in tokens[1:] if "/" in t or "." in t), current)
                events.append({**base, "hook_event_name": "PostToolUse", "tool_name": "Edit",
                               "tool_input": {"file_path": target or "unknown"},
                               "tool_response": {}})
                continue
            failed = step.success is False or observation_failed(step.action,
                                                                 step.observation)
            event = {**base, "hook_event_name": "PostToolUseFailure" if failed
                     else "PostToolUse", "tool_name": "Bash",
                     "tool_input": {"command": step.action}}
            event.update({"error": step.observation} if failed else
                         {"tool_response": {"stdout": step.observation, "stderr": ""}})
            events.append(event)
        events += [{**base, "hook_event_name": "Stop"},
                   {**base, "hook_event_name": "SessionEnd", "reason": "exit"}]
    return events


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def recorded_events(swe_agent: Path | None) -> list[dict[str, Any]]:
    events = transcript_events(FIXTURE, cwd=str(ROOT))
    if swe_agent and swe_agent.is_dir():
        for path in sorted(swe_agent.glob("*.traj")):
            events += trajectory_events(path, cwd=str(ROOT))
    return events


async def capture(events: list[dict[str, Any]], db: str) -> dict[str, Any]:
    service = await MemoryService.open(Settings(db=db))
    plugins = PluginManager.from_environment(None).load()

    async def get() -> MemoryService:
        return service

    plugins.bind(get)
    lifecycle = Lifecycle(service, db=db, plugins=plugins)
    reinforced = 0
    remember_many = service.remember_many

    async def counting(items: Any, **kw: Any) -> Any:
        nonlocal reinforced
        results = await remember_many(items, **kw)
        reinforced += sum(r.status == "reinforced" for r in results)
        return results

    service.remember_many = counting  # type: ignore[method-assign]
    start_tokens: list[int] = []
    started = time.perf_counter()
    for data in events:
        answer = await lifecycle.handle(parse_event(data))
        if answer and data["hook_event_name"] == "SessionStart":
            start_tokens.append(count_tokens(answer["hookSpecificOutput"]["additionalContext"]))
    seconds = time.perf_counter() - started
    rows = await service.store.scan(None)
    await service.close()
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    sessions = sum(e["hook_event_name"] == "SessionStart" for e in events)
    return {"events": len(events), "sessions": sessions, "memories": len(rows),
            "per_100_events": 100 * len(rows) / len(events), "reinforced": reinforced,
            "kinds": kinds, "seconds": seconds,
            "session_start_tokens": start_tokens}


def hook_latency(events: list[dict[str, Any]], db: str, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "habitus.cli", "hook", "--db", db]
    exe = Path(sys.executable).parent / "habitus"
    if exe.exists():
        command = [str(exe), "hook", "--db", db]
    times: dict[str, list[float]] = {}
    for data in events:
        name = data["hook_event_name"]
        started = time.perf_counter()
        subprocess.run([*command, name], input=json.dumps(data).encode(), env=env,
                       capture_output=True, check=True, timeout=60)
        times.setdefault(name, []).append(1000 * (time.perf_counter() - started))
    every = [t for ts in times.values() for t in ts]
    table = {name: (pct(ts, 0.5), pct(ts, 0.95), len(ts)) for name, ts in sorted(times.items())}
    table["all"] = (pct(every, 0.5), pct(every, 0.95), len(every))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--swe-agent", type=Path, default=ROOT.parent / "shared/data/swe-agent")
    parser.add_argument("--locomo", type=Path,
                        default=ROOT.parent / "shared/data/locomo/locomo10.json")
    parser.add_argument("--pairs", default="0:1",
                        help="LoCoMo conversation:control pairs for the relevance part")
    parser.add_argument("--latency-events", type=int, default=60)
    args = parser.parse_args()

    events = recorded_events(args.swe_agent)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")
        db = str(Path(tmp) / "capture")
        report = anyio.run(capture, events, db)
        print(f"capture: {report['events']} events from {report['sessions']} sessions → "
              f"{report['memories']} memories ({report['per_100_events']:.1f} per 100 events; "
              f"kinds {report['kinds']}), {report['reinforced']} near-duplicates reinforced "
              f"instead of stored, {report['seconds']:.1f} s in process")
        tokens = report["session_start_tokens"]
        if tokens:
            print(f"session start: context injected in {len(tokens)} of {report['sessions']} "
                  f"sessions, tokens p50 {pct(tokens, 0.5):.0f}, max {max(tokens)}")

        sample = events[: args.latency_events]
        runtime = Path(tmp) / "run"
        runtime.mkdir(mode=0o700)
        env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HABITUS_HOOKS_DAEMON": "0",
               "LANCE_LOG": "error"}
        offline = hook_latency(sample, db + "-offline", env)
        from habitus.lifecycle import daemon

        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        daemon.start(db, wait=120)
        hook_latency(sample[:3], db, env)  # the server opens the store on its first events
        time.sleep(2)
        online = hook_latency(sample, db, env)
        daemon.stop(db)
        print("\nhook latency, ms (a new `habitus hook` process per event)")
        print(f"{'event':<20}{'server p50':>12}{'p95':>8}{'no server p50':>16}{'p95':>8}{'n':>5}")
        for name in online:
            on, off = online[name], offline.get(name, (float("nan"),) * 3)
            print(f"{name:<20}{on[0]:>12.0f}{on[1]:>8.0f}{off[0]:>16.0f}{off[1]:>8.0f}{on[2]:>5}")

    bench_gate.report(args.locomo, [(int(a), int(b)) for a, b in
                                     (p.split(":") for p in args.pairs.split(","))], False)

if __name__ == "__main__":
    main()
