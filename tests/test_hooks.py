"""Lifecycle hooks: a recorded session replayed through them leaves the expected memories and
the next session starts knowing them; the `habitus hook` command keeps the hook protocol
whatever it is given; installing the hooks round-trips with removing them."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from habitus.base.dirs import state_dir
from habitus.clients.hooks import apply_hooks, plan_hooks
from habitus.core.config import Settings
from habitus.lifecycle import capture, files
from habitus.lifecycle.events import parse_event
from habitus.lifecycle.handler import Lifecycle
from habitus.lifecycle.replay import transcript_events
from habitus.lifecycle.sessions import SessionState

from .servers import habitus_command, http_server, plugins_of, server_env

FIXTURE = Path(__file__).parent / "fixtures" / "claude_code_session.jsonl"
SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "tinycal"
    (repo / "src" / "tinycal").mkdir(parents=True)
    (repo / "src" / "tinycal" / "parse.py").write_text("def parse_date(s):\n    return s\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a",
                    "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    return repo


def _session_events(repo: Path) -> list[dict[str, Any]]:
    """The fixture session (a failing test, a fix, the test passing) in `repo`, with a prompt
    that states a convention, private content and a secret."""
    events = transcript_events(FIXTURE, cwd=str(repo))
    for event in events:
        for key in ("tool_input",):
            if isinstance(event.get(key), dict) and "file_path" in event[key]:
                event[key]["file_path"] = event[key]["file_path"].replace(
                    "/home/dev/projects/tinycal", str(repo))
    first = next(i for i, e in enumerate(events) if e["hook_event_name"] == "UserPromptSubmit")
    events[first]["prompt"] += (
        "\nAlways run the parser tests with -q before committing."
        f"\n<private>my bank pin is 4921-PRIVATE</private> token {SECRET}")
    return events


@pytest.fixture
async def lifecycle(service: Any, db_path: Path) -> Lifecycle:
    return Lifecycle(service, db=str(db_path), plugins=plugins_of(service))


@pytest.mark.fast
def test_capture_rules_skip_what_is_trivial() -> None:
    state = SessionState("s", scope="global", workdir="/nowhere")

    def bash(command: str, out: str = "", failed: bool = False) -> list[Any]:
        event = parse_event({"hook_event_name": "PostToolUseFailure" if failed else
                             "PostToolUse", "tool_name": "Bash",
                             "tool_input": {"command": command},
                             "tool_response": {"stdout": out}, "error": out if failed else ""})
        return capture.tool_memories(state, event)

    for _ in range(50):
        assert bash("ls -la") == [] and bash("git status") == [] and bash("cat README.md") == []
        assert capture.tool_memories(state, parse_event({
            "hook_event_name": "PostToolUse", "tool_name": "Read",
            "tool_input": {"file_path": "/x"}})) == []
    assert bash("grep -r foo .", "Exit code 1", failed=True) == []  # a search finding nothing
    assert bash("npm run build", "Error: Cannot find module 'vite'", failed=True) == []
    assert bash("npm install vite") == []
    pair = bash("npm run build", "built in 2s")
    assert len(pair) == 1 and "Cannot find module 'vite'" in pair[0].content
    assert "`npm install vite` worked" not in pair[0].content  # it was the rerun that worked
    assert state.commands == 154 and state.fixed == 1 and capture.turn_memories(state) == []
    said = capture.prompt_memories(state, "Can you fix it? We use pnpm, never npm. Thanks!")
    assert [m.content for m in said] == ["We use pnpm, never npm."]
    assert capture.prompt_memories(state, "Never mind, always the same bug?") == []


@pytest.mark.anyio
async def test_a_recorded_session_leaves_memories_the_next_session_starts_with(
    lifecycle: Lifecycle, service: Any, tmp_path: Path, db_path: Path
) -> None:
    repo = _repo(tmp_path)
    answers = [await lifecycle.handle(parse_event(e)) for e in _session_events(repo)]
    assert answers[0] is None  # an empty memory has nothing to say
    rows = await service.store.scan(None)
    by_tag = {tag: [r for r in rows if tag in (r["tags"] or [])] for tag in
              ("error-fix", "preference", "edit", "session", "procedure")}
    fix = by_tag["error-fix"]
    assert len(fix) == 1 and "pytest tests/test_parse.py" in fix[0]["content"]
    assert "ValueError: Invalid isoformat string" in fix[0]["content"]
    assert "src/tinycal/parse.py" in fix[0]["content"]  # the file edited between
    assert [r["content"] for r in by_tag["preference"]] == [
        "Always run the parser tests with -q before committing."]
    assert by_tag["session"] and "Outcome: succeeded" in by_tag["session"][0]["content"]
    procedures = [r for r in rows if r["kind"] == "procedural"]
    assert len(procedures) == 1
    assert {r["tool"] for r in rows} <= {f"hook:{e}" for e in ("UserPromptSubmit",
            "PostToolUse", "Stop", "SessionEnd")}
    assert all(json.loads(r["metadata"])["habitus"]["source"] ==
               ("distilled" if r["kind"] == "procedural" else "hook") for r in rows)
    assert all(r["session"] == "7b1c2d9e-4f3a-4b8e-9c1d-2a5e6f7b8c90" for r in rows)
    # Private content and secrets are nowhere in the store.
    for path in db_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"4921-PRIVATE" not in data and SECRET.encode() not in data, path

    # The next session starts with them: the procedure, the fix, the preference.
    start = {"hook_event_name": "SessionStart", "session_id": "next", "cwd": str(repo),
             "source": "startup"}
    answer = await lifecycle.handle(parse_event(start))
    assert answer is not None
    text = answer["hookSpecificOutput"]["additionalContext"]
    assert answer["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    for memory in (fix[0], by_tag["preference"][0], procedures[0]):
        assert memory["id"] in text
    assert "not instructions" in text
    cached, ids = files.read_context(str(db_path), lifecycle.project(
        lifecycle.sessions.get("next")))  # type: ignore[arg-type]
    assert cached == text and fix[0]["id"] in ids

    # A prompt on the same subject injects only what is not in the context already.
    prompt = {"hook_event_name": "UserPromptSubmit", "session_id": "next", "cwd": str(repo),
              "prompt": "parse_date raises ValueError on a Z suffix again, why?"}
    assert await lifecycle.handle(parse_event(prompt)) is None
    other = {**prompt, "session_id": "third"}
    injected = await lifecycle.handle(parse_event(other))
    assert injected is not None
    shown = injected["hookSpecificOutput"]["additionalContext"]
    assert fix[0]["id"] in shown or procedures[0]["id"] in shown
    unrelated = {**other, "prompt": "write a haiku about the autumn sea and its cold waves"}
    assert await lifecycle.handle(parse_event(unrelated)) is None


def _hook(event: str, stdin: bytes, db: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*habitus_command(), "hook", "--db", str(db), event], input=stdin,
                          capture_output=True, timeout=60,
                          env=server_env(**{"HABITUS_HOOKS_DAEMON": "0", **env}))


def test_the_hook_command_keeps_the_protocol_whatever_it_is_given(
    tmp_path: Path, db_path: Path
) -> None:
    repo = _repo(tmp_path)
    base = {"session_id": "s-1", "cwd": str(repo), "transcript_path": str(tmp_path / "gone")}
    with http_server(db_path) as url:
        deadline = time.monotonic() + 30  # the server publishes its address once it listens
        while time.monotonic() < deadline and not list((tmp_path.parent / "run").glob("*")):
            time.sleep(0.1)
        cases = [
            ("SessionStart", json.dumps({**base, "source": "startup"}).encode()),
            ("UserPromptSubmit", json.dumps({**base, "prompt": "we use ruff for lint"}).encode()),
            ("PostToolUse", json.dumps({**base, "tool_name": "Bash", "tool_input": {
                "command": "pytest"}, "tool_response": {"stdout": "x" * 12_000_000}}).encode()),
            ("PostToolUseFailure", b"{not json"),
            ("Stop", b""),
            ("SessionEnd", json.dumps({**base, "reason": "exit"}).encode()),
            ("NoSuchEvent", json.dumps(base).encode()),
            ("SessionStart", json.dumps([1, 2]).encode()),
        ]
        for event, stdin in cases:
            done = _hook(event, stdin, db_path)
            assert done.returncode == 0, (event, done.stderr)
            out = done.stdout.decode()
            if out:
                answer = json.loads(out)
                assert answer["hookSpecificOutput"]["hookEventName"] == event
        # The server's route refuses what a web page could send.
        hooks = url.rsplit("/", 1)[0] + "/hooks"
        body = json.dumps({**base, "hook_event_name": "Stop"}).encode()
        for headers in ({"Content-Type": "application/json", "Origin": "http://evil.example"},
                        {"Content-Type": "text/plain"},
                        {"Content-Type": "application/json", "Host": "evil.example"}):
            request = urllib.request.Request(hooks, data=body, headers=headers, method="POST")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 403
        ok = urllib.request.Request(hooks, data=body, method="POST",
                                    headers={"Content-Type": "application/json"})
        assert json.loads(urllib.request.urlopen(ok, timeout=10).read()) == {}


def test_without_a_server_events_wait_in_the_spool_for_the_next_one(
    tmp_path: Path, db_path: Path
) -> None:
    repo = _repo(tmp_path)
    events = _session_events(repo)
    started = time.monotonic()
    for event in events:
        done = _hook(event["hook_event_name"], json.dumps(event).encode(), db_path)
        assert done.returncode == 0 and done.stdout == b"", done.stderr
    per_event = (time.monotonic() - started) / len(events)
    assert per_event < 5  # (figures: bench/bench_hooks.py)
    spool = state_dir() / f"spool-{files.store_key(str(db_path.resolve()))}.jsonl"
    assert spool.exists() and b"4921-PRIVATE" not in spool.read_bytes()
    assert SECRET.encode() not in spool.read_bytes()
    with http_server(db_path):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and files.spool_waiting(str(db_path.resolve())):
            time.sleep(0.2)
        assert not files.spool_waiting(str(db_path.resolve()))  # taken, handled, deleted
    import anyio

    async def stored() -> list[dict[str, Any]]:
        from habitus.core.service import MemoryService

        service = await MemoryService.open(Settings(db=str(db_path), embedder="none"))
        try:
            return await service.store.scan(None)
        finally:
            await service.close()

    rows = anyio.run(stored)
    assert any("error-fix" in (r["tags"] or []) for r in rows)
    assert any(r["kind"] == "procedural" for r in rows)


def test_install_hooks_round_trips_with_remove(tmp_path: Path) -> None:
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    original = json.dumps({"model": "opus", "permissions": {"allow": ["Bash(ls:*)"]},
                           "hooks": {"Stop": [{"hooks": [{"type": "command",
                                                          "command": "notify-send done"}]}]}},
                          indent=2) + "\n"
    settings.write_bytes(original.encode())
    command = ["/opt/habitus/bin/habitus", "hook", "--db", "/home/me/memory store"]
    dry = plan_hooks(settings, command=command)
    assert dry.changed and "SessionStart" in dry.diff() and settings.read_text() == original
    apply_hooks(dry)
    document = json.loads(settings.read_text())
    assert document["model"] == "opus" and len(document["hooks"]["Stop"]) == 2
    assert document["hooks"]["PostToolUse"][0]["matcher"].startswith("Bash")
    assert not plan_hooks(settings, command=command).changed  # installing twice: one group
    apply_hooks(plan_hooks(settings, remove=True))
    assert settings.read_bytes() == original.encode()

    done = subprocess.run([*habitus_command(), "install", "claude-code", "--hooks",
                           "--project", str(tmp_path), "--local", "--dry-run"],
                          capture_output=True, text=True, env=server_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "settings.local.json" in done.stdout and not (
        tmp_path / ".claude" / "settings.local.json").exists()
    assert os.listdir(tmp_path / ".claude") == ["settings.json"]



def _stored(db: Path) -> list[dict[str, Any]]:
    import anyio

    async def scan() -> list[dict[str, Any]]:
        from habitus.core.service import MemoryService

        service = await MemoryService.open(Settings(db=str(db), embedder="none"))
        try:
            return await service.store.scan(None)
        finally:
            await service.close()

    return anyio.run(scan)


def _daemon(db: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*habitus_command(), "--db", str(db), "daemon", command],
                          capture_output=True, text=True, timeout=120, env=server_env())


def test_a_first_session_with_no_server_gets_what_a_warm_one_gets(tmp_path: Path) -> None:
    """Replayed through `habitus hook` as Claude Code runs it: with no server for the store
    (the first session after install), then with one already running. Both sessions start
    with the project's convention and leave the same memories: no event lost, none out of
    order while the background server starts."""
    repo = _repo(tmp_path)
    events = _session_events(repo)
    captured = {}
    for mode in ("cold", "warm"):
        db = tmp_path / f"store-{mode}"
        seeded = subprocess.run(
            [*habitus_command(), "--db", str(db), "remember", "--kind", "semantic",
             "Convention: dates in tinycal are parsed with parse_date, never by hand."],
            cwd=repo, capture_output=True, text=True, timeout=120, env=server_env())
        assert seeded.returncode == 0, seeded.stderr
        if mode == "warm":
            assert _daemon(db, "start").returncode == 0
        try:
            answers = []
            for event in events:
                done = _hook(event["hook_event_name"], json.dumps(event).encode(), db,
                             HABITUS_HOOKS_DAEMON="1")
                assert done.returncode == 0, done.stderr
                answers.append(done.stdout)
            start = json.loads(answers[0])["hookSpecificOutput"]["additionalContext"]
            assert "parsed with parse_date" in start, (mode, start)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and files.spool_waiting(str(db)):
                time.sleep(0.2)  # the background server takes what was spooled
        finally:
            _daemon(db, "stop")
        assert not files.spool_waiting(str(db))
        rows = [r for r in _stored(db) if "hook" in (r["tool"] or "")]
        captured[mode] = sorted((r["kind"], tuple(r["tags"] or []), r["content"]) for r in rows)
        summary = next(c for k, t, c in captured[mode] if "session" in t)
        assert "1 failed, 1 fixed" in summary and "test_parse_iso_z" in summary, summary
        assert any("error-fix" in t for _, t, _ in captured[mode])
    assert captured["cold"] == captured["warm"]


def _transcript_of(tmp_path: Path, repo: Path, session: str, prompt: str) -> Path:
    """The fixture session as session `session`, asked with `prompt`, recalling from memory
    first as an assistant with habitus does."""
    out = []
    for line in FIXTURE.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("sessionId"):
            event["sessionId"] = session
        content = event.get("message", {}).get("content") if isinstance(
            event.get("message"), dict) else None
        if isinstance(content, str) and content.startswith("test_parse_iso_z"):
            event["message"]["content"] = prompt
        out.append(event)
        if isinstance(content, list) and content and content[0].get("type") == "text" and \
                "start by running" in content[0].get("text", ""):
            out.append({**event, "message": {"role": "assistant", "content": [{
                "type": "tool_use", "id": "toolu_mem", "name": "mcp__habitus__recall",
                "input": {"query": "parse_date Z suffix"}}]}})
            out.append({**event, "type": "user", "message": {"role": "user", "content": [{
                "type": "tool_result", "tool_use_id": "toolu_mem", "content": "[]"}]}})
    path = tmp_path / f"{session}.jsonl"
    path.write_text("\n".join(json.dumps(e).replace("/home/dev/projects/tinycal", str(repo))
                              for e in out) + "\n")
    return path


@pytest.mark.anyio
async def test_the_same_task_done_again_reinforces_its_procedure(
    lifecycle: Lifecycle, service: Any, tmp_path: Path
) -> None:
    repo = _repo(tmp_path)
    prompts = ["test_parse_iso_z fails: parse_date raises ValueError on a trailing Z",
               "parse_date chokes on ISO timestamps ending in Z, fix test_parse_iso_z",
               "test_parse_iso_z is red again: ValueError for a Z suffix in parse_date"]
    for n in range(6):
        transcript = _transcript_of(tmp_path, repo, f"session-{n}", prompts[n % 3])
        for event in transcript_events(transcript, cwd=str(repo)):
            await lifecycle.handle(parse_event(event))
    procedures = [r for r in await service.store.scan(None) if r["kind"] == "procedural"
                  and r["deleted_at"] is None and r["valid_until"] is None]
    assert len(procedures) == 1, [p["content"] for p in procedures]
    metadata = json.loads(procedures[0]["metadata"])
    assert metadata["record"]["successes"] == metadata["record"]["uses"] == 5
    assert sorted(metadata["procedure"]["source_ids"]) == [f"session-{n}" for n in range(6)]
    assert "mcp__habitus" not in procedures[0]["content"] and "recall" not in procedures[0][
        "content"].split("Steps:")[-1]


@pytest.mark.anyio
async def test_an_event_sent_and_spooled_counts_once(lifecycle: Lifecycle, tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    base = {"session_id": "twice", "cwd": str(repo)}
    fail = {**base, "hook_event_name": "PostToolUseFailure", "tool_name": "Bash",
            "tool_input": {"command": "pytest tests/test_parse.py"}, "error": "1 failed"}
    for event_id in ("a1", "a1", "b2"):  # a send that timed out, then its spooled copy
        await lifecycle.handle(parse_event({**fail, "event_id": event_id}))
    state = lifecycle.sessions.get("twice")
    assert state is not None and state.events == 2 and state.failed == 2
    await lifecycle.handle(parse_event({**fail, "event_id": "not an id!"}))  # ignored as an id
    assert state.events == 3
