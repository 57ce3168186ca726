"""Privacy once, where content enters: a real Claude Code transcript carrying private text and
keys of several providers goes through every path that stores, caches or spools — the hooks
(capture, session-end distillation, the session-start cache), the spool of a hook with no
server, `habitus distill`, `habitus watch`, `remember` with nested metadata — and then no byte
under the store or the state directory holds any of it. `habitus scrub` finds and cleans what
an unclean store already holds, in metadata and cached files too."""

from __future__ import annotations

import json
import random
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest

from habitus.base.dirs import state_dir
from habitus.core.config import Settings
from habitus.core.models import CallContext, NewMemory
from habitus.core.trajectory.claude_code import read_claude_code
from habitus.core.trust.privacy import bound, clean_data, clean_text
from habitus.lifecycle import files
from habitus.lifecycle.events import parse_event
from habitus.lifecycle.handler import Lifecycle
from habitus.lifecycle.replay import transcript_events

from .servers import habitus_command, plugins_of, server_env

FIXTURE = Path(__file__).parent / "fixtures" / "claude_code_session.jsonl"
_rng = random.Random(7)


def _chars(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


ANTHROPIC = "sk-ant-api03-" + _chars(93) + "AA"
OPENAI = "sk-proj-" + _chars(48)
GITHUB = "ghp_" + _chars(36)
AWS_ID = "AKIA" + _chars(16, string.ascii_uppercase + string.digits)
AWS_SECRET = _chars(40, string.ascii_letters + string.digits + "/+")
STRIPE = "sk_live_" + _chars(24)
SLACK = "xoxb-" + _chars(12, string.digits) + "-" + _chars(24)
PRIVATE = ("4921-PRIVATE", "BLUEFALCON")
SECRETS = (ANTHROPIC, OPENAI, GITHUB, AWS_ID, AWS_SECRET, STRIPE, SLACK)


def leaked(text: bytes) -> list[str]:
    """What of the private words and secrets `text` holds: every private word, and every
    12-character piece of each secret's body (a key cut in two still leaks)."""
    found = [p for p in PRIVATE if p.encode() in text]
    for secret in SECRETS:
        body = secret.split("-")[-1] if secret.startswith("sk-ant") else secret[4:]
        found += [secret[:16] for i in range(0, len(body) - 12, 6)
                  if body[i:i + 12].encode() in text][:1]
    return found


def leaks_under(*folders: Path) -> dict[str, list[str]]:
    out = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and (found := leaked(path.read_bytes())):
                out[str(path)] = found
    return out


def secret_transcript(tmp_path: Path, repo: Path) -> Path:
    """The fixture session with private text and keys where real sessions have them: the
    prompt, a command, command output (one key where a long output gets cut), an edit and the
    assistant's own words."""
    lines = FIXTURE.read_text().splitlines()
    out = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        content = event.get("message", {}).get("content") if isinstance(
            event.get("message"), dict) else None
        if event.get("type") == "user" and isinstance(content, str) and content.startswith(
                "test_parse_iso_z"):
            event["message"]["content"] = (
                content + f"\n<private>my bank pin is {PRIVATE[0]}</private> "
                f"and my key is {ANTHROPIC}\nAlways keep parser fixtures small.")
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_use" and block.get("name") == "Bash" and \
                    "pytest" in block["input"].get("command", ""):
                block["input"]["command"] = (f"export OPENAI_API_KEY={OPENAI} && "
                                             + block["input"]["command"])
            if block.get("type") == "tool_use" and block.get("name") == "Edit":
                block["input"]["new_string"] += f"\n# billing: {STRIPE}\n"
            if block.get("type") == "tool_result" and isinstance(block.get("content"), str):
                if "FAILURES" in block["content"]:
                    block["content"] += (f"\nAWS_ACCESS_KEY_ID={AWS_ID}\n"
                                         f'aws_secret_access_key = "{AWS_SECRET}"')
                elif "Parsing of dates" in block["content"]:  # a long read, cut to fit
                    padding = " ".join(_chars(7) for _ in range(2_600))
                    block["content"] += f"\n{padding} token {GITHUB} {padding}"
            if block.get("type") == "text":
                block["text"] += (f" (Slack {SLACK}) <private>codename {PRIVATE[1]}"
                                  "</private>")
        out.append(json.dumps(event).replace("/home/dev/projects/tinycal", str(repo)))
    path = tmp_path / "transcripts" / "7b1c2d9e.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(out) + "\n")
    return path


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "tinycal"
    (repo / "src" / "tinycal").mkdir(parents=True)
    (repo / "src" / "tinycal" / "parse.py").write_text("def parse_date(s):\n    return s\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


@pytest.mark.fast
def test_the_privacy_step_removes_private_text_and_secrets_at_any_depth() -> None:
    text = f"a <private>{PRIVATE[0]}</private> b {GITHUB} c <PRIVATE>unclosed {PRIVATE[1]}"
    cleaned, kinds = clean_text(text)
    assert not leaked(cleaned.encode()) and cleaned.startswith("a  b [redacted: GitHub token]")
    assert kinds == ["GitHub token", "private text"]
    nested: Any = {"a": [{"b": {"c": [f"x {STRIPE}"]}}], "password": "hunter2-Hunter2",
                   f"<private>{PRIVATE[0]}</private>key": "v"}
    for _ in range(40):
        nested = {"deeper": nested}
    data, kinds = clean_data(nested)
    assert not leaked(json.dumps(data).encode()) and "hunter2" not in json.dumps(data)
    # A long text is cut between words: a key at the cut is whole, and redacted, or gone.
    for at in range(9_980, 10_030, 3):
        long = "w " * (at // 2) + GITHUB + " tail" * 6_000
        assert not leaked(clean_text(bound(long, 20_000))[0].encode()), at


@pytest.mark.anyio
async def test_no_path_stores_private_text_or_keys(
    service: Any, tmp_path: Path, db_path: Path
) -> None:
    repo = _repo(tmp_path)
    transcript = secret_transcript(tmp_path, repo)
    lifecycle = Lifecycle(service, db=str(db_path), plugins=plugins_of(service))

    # The hooks, event by event, with the transcript on disk (distilled at session end).
    events = transcript_events(transcript, cwd=str(repo))
    assert any(e.get("prompt") and ANTHROPIC[:20] not in e["prompt"] for e in events)
    for event in events:
        await lifecycle.handle(parse_event(event))
    # The next session starts from what was stored, and caches it for a session with no server.
    start = {"hook_event_name": "SessionStart", "session_id": "next", "cwd": str(repo),
             "source": "startup"}
    assert await lifecycle.handle(parse_event(start)) is not None

    # A hook with no server spools its event.
    prompt = {"hook_event_name": "UserPromptSubmit", "session_id": "s2", "cwd": str(repo),
              "prompt": f"we use ruff. <private>{PRIVATE[0]}</private> {SLACK} {OPENAI}"}
    done = subprocess.run([*habitus_command(), "hook", "--db", str(db_path),
                           "UserPromptSubmit"], input=json.dumps(prompt).encode(),
                          capture_output=True, timeout=60, env=server_env(HABITUS_HOOKS_DAEMON="0"))
    assert done.returncode == 0, done.stderr
    assert files.spool_waiting(str(db_path))

    # `remember` from any client, secrets in nested metadata too.
    ctx = CallContext(project_scope="global", client="pytest")
    (result,) = await service.remember_many([NewMemory(
        content=f"Deploy key notes <private>{PRIVATE[1]}</private> {AWS_ID}",
        tags=["deploy"], metadata={"env": {"vars": [f"STRIPE={STRIPE}"],
                                           "note": f"<private>{PRIVATE[0]}</private>"}})],
        ctx=ctx)
    assert set(result.redacted) >= {"AWS access key", "private text"}

    # The trajectory tools: `habitus distill` and `habitus watch` read the same transcript.
    for args in (["distill", str(transcript)], ["watch", "--dir", str(transcript.parent),
                                                 "--once"]):
        done = subprocess.run([*habitus_command(), "--db", str(db_path), *args], cwd=repo,
                              capture_output=True, text=True, timeout=180, env=server_env())
        assert done.returncode == 0, done.stderr
    trajectory = read_claude_code(transcript)
    assert not leaked(trajectory.model_dump_json().encode())

    rows = await service.store.scan(None)
    assert any(r["kind"] == "procedural" for r in rows)
    assert any("error-fix" in (r["tags"] or []) for r in rows)
    await lifecycle.drain()  # the spooled event, handled as a server would
    await service.close()
    assert leaks_under(db_path, state_dir()) == {}


@pytest.mark.anyio
async def test_scrub_cleans_an_unclean_store_and_the_cached_files(
    db_path: Path, tmp_path: Path
) -> None:
    from habitus.core.service import MemoryService

    service = await MemoryService.open(Settings(db=str(db_path), redact_secrets=False))
    ctx = CallContext(project_scope="global", client="pytest")
    procedure = {"procedure": {"task": "deploy", "steps": ["run deploy <data>"],
                               "generalised": {"<data>": AWS_SECRET}}}
    await service.remember_many([
        NewMemory(content=f"the token is {GITHUB}", tags=["t"], metadata={"k": [OPENAI]}),
        NewMemory(content="Task: deploy\nSteps:\n1. run deploy <data>", kind="procedural",
                  metadata=procedure),
    ], ctx=ctx)
    await service.close()
    db = str(db_path.resolve())
    files.write_context(db, "p", f"cached {SLACK}", [])  # (written cleaned now)
    spool = state_dir() / f"spool-{files.store_key(db)}.jsonl"
    spool.write_text(json.dumps({"hook_event_name": "Stop", "prompt": STRIPE}) + "\n")
    assert leaks_under(db_path, state_dir())

    def scrub(*extra: str) -> dict[str, Any]:
        done = subprocess.run([*habitus_command(), "--db", db, "scrub", "--json", *extra],
                              capture_output=True, text=True, timeout=180, env=server_env())
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    found = scrub()
    assert found["memories"] == 2 and found["files"] == 1 and not found["applied"]
    assert {"GitHub token", "OpenAI API key", "Stripe key", "placeholder map"} <= set(
        found["kinds"])
    assert scrub("--apply")["applied"]
    assert leaks_under(db_path, state_dir()) == {}
    assert scrub()["kinds"] == []
