"""Lifecycle hooks on real sessions: what they capture, what they inject, how fast they answer.

1. Capture: recorded sessions (the Claude Code transcript fixture and the SWE-agent
   trajectories of --swe-agent, converted to the hook events they would have produced) replayed
   through the hooks into a fresh store: memories created per 100 events, near-duplicates
   reinforced, tokens injected per session start.
2. Latency: `habitus hook EVENT` as the assistant runs it (a new process per event), with a
   server running for the store and without one (events spooled), p50 / p95 per event.
3. Relevance: every LoCoMo question of the first --locomo-limit conversations asked as a
   UserPromptSubmit over a store holding its conversation: how often the injection holds an
   evidence turn, how often nothing is injected, and the tokens it costs, beside a plain top-5
   recall, for several thresholds.

    python bench/bench_hooks.py [--swe-agent ../shared/data/swe-agent]
        [--locomo ../shared/data/locomo/locomo10.json] [--locomo-limit 1] [--latency-events 60]
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

from habitus.core.config import Settings
from habitus.core.eval_locomo import ingest, load_locomo
from habitus.core.models import CallContext
from habitus.core.scope import validate_scope
from habitus.core.service import MemoryService
from habitus.core.tokens import count_tokens
from habitus.lifecycle.context import prompt_context
from habitus.lifecycle.events import parse_event
from habitus.lifecycle.handler import Lifecycle
from habitus.lifecycle.replay import trajectory_events, transcript_events
from habitus.lifecycle.sessions import SessionState
from habitus.plugins.manager import PluginManager

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "claude_code_session.jsonl"


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


async def relevance(path: Path, limit: int, thresholds: list[float]) -> dict[str, Any]:
    every = load_locomo(path)
    conversations, control = every[:limit], every[limit] if len(every) > limit else None
    with tempfile.TemporaryDirectory() as tmp:
        service = await MemoryService.open(Settings(db=str(Path(tmp) / "store")))
        mapping = await ingest(service, conversations)
        rows = {r["id"]: r for r in await service.store.scan(None)}
        out: dict[str, Any] = {"questions": 0, "top5": {"hit": 0, "tokens": 0},
                               "thresholds": {t: {"hit": 0, "empty": 0, "tokens": 0,
                                                  "memories": 0} for t in thresholds}}
        for conv in conversations:
            ids = mapping[conv.scope]
            ctx = CallContext(project_scope=validate_scope(conv.scope), client="bench",
                              source="hook")
            for i, question in enumerate(conv.questions):
                out["questions"] += 1
                result = await service.recall(question.text, limit=8, ctx=ctx)
                evidence = set(question.evidence)
                top5 = result.memories[:5]
                out["top5"]["hit"] += any(ids.get(h.id, set()) & evidence for h in top5)
                out["top5"]["tokens"] += sum(count_tokens(h.content) for h in top5)
                for threshold in thresholds:
                    state = SessionState(f"q{i}", scope=ctx.project_scope)
                    shown = await prompt_context(result.memories, service.store,
                                                 service.encoder, state, question.text,
                                                 threshold=threshold)
                    row = out["thresholds"][threshold]
                    row["empty"] += not shown.ids
                    row["memories"] += len(shown.ids)
                    row["tokens"] += count_tokens(shown.text) if shown.text else 0
                    row["hit"] += any(ids.get(m, set()) & evidence for m in shown.ids)
        if control is not None:  # another conversation's questions: nothing should come up
            ctx = CallContext(project_scope=validate_scope(conversations[0].scope),
                              client="bench", source="hook")
            out["control"] = {"questions": len(control.questions),
                              "injected": {t: 0 for t in thresholds}}
            for i, question in enumerate(control.questions):
                result = await service.recall(question.text, limit=8, ctx=ctx)
                for threshold in thresholds:
                    state = SessionState(f"c{i}", scope=ctx.project_scope)
                    shown = await prompt_context(result.memories, service.store,
                                                 service.encoder, state, question.text,
                                                 threshold=threshold)
                    out["control"]["injected"][threshold] += bool(shown.ids)
        await service.close()
        del rows
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--swe-agent", type=Path, default=ROOT.parent / "shared/data/swe-agent")
    parser.add_argument("--locomo", type=Path,
                        default=ROOT.parent / "shared/data/locomo/locomo10.json")
    parser.add_argument("--locomo-limit", type=int, default=1)
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

    if args.locomo.is_file():
        thresholds = [0.3, 0.4, 0.45, 0.5, 0.55]
        rel = anyio.run(relevance, args.locomo, args.locomo_limit, thresholds)
        n = rel["questions"]
        print(f"\nrelevance: {n} LoCoMo questions as prompts (first {args.locomo_limit} "
              "conversation(s))")
        print(f"{'injection':<22}{'evidence in it':>16}{'nothing injected':>18}"
              f"{'memories':>10}{'tokens/prompt':>15}")
        top = rel["top5"]
        print(f"{'plain top-5 recall':<22}{100 * top['hit'] / n:>15.1f}%{0:>17.1f}%{5:>10.1f}"
              f"{top['tokens'] / n:>15.0f}")
        for threshold, row in rel["thresholds"].items():
            print(f"{'cosine >= ' + str(threshold):<22}{100 * row['hit'] / n:>15.1f}%"
                  f"{100 * row['empty'] / n:>17.1f}%{row['memories'] / n:>10.1f}"
                  f"{row['tokens'] / n:>15.0f}")
        if "control" in rel:
            control = rel["control"]
            print(f"control: {control['questions']} questions of another conversation, "
                  "something injected: " + ", ".join(
                      f"{100 * v / control['questions']:.0f}% at {t}"
                      for t, v in control["injected"].items()))
    else:
        print(f"\n(no LoCoMo file at {args.locomo}: relevance skipped; pass --locomo)")


if __name__ == "__main__":
    main()
