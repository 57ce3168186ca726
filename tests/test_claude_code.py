"""The real Claude Code CLI, run headless against habitus, with a scripted model.

Claude Code (`tests/js/node_modules/.bin/claude`, pinned in tests/js/package.json) runs one
`claude -p` session in a fresh home and a git repository, with habitus registered by
`habitus install claude-code --hooks` (MCP server and lifecycle hooks, on a store in the test's
folder) and the Messages API answered by `model_stub.ModelStub` on 127.0.0.1. The scripted
model remembers a convention and recalls over MCP, runs a command that fails, writes the file
that fixes it, runs the command again, and finishes. The prompt carries a `<private>` part and
two keys, the failing command prints a third. Claude Code keeps its defaults: in print mode MCP
servers connect without holding up the first request (MCP_CONNECTION_NONBLOCKING is not set).

Each check is its own test over the same session, so the report says exactly which hold:
habitus's tools offered on the first request (connected in time), the seeded convention in the
session-start context, a related memory injected with the prompt, the model's MCP calls
answered, an error → fix memory and a session summary captured, the stdio server stopping on
Claude Code's SIGINT, and no private text nor key anywhere under the store, the state directory
or the runtime directory afterwards. The session runs twice: `cold` (no habitus server for the
store when it starts: the first hook starts one) and `warm` (after `habitus daemon start`).

Needs Node and `npm ci --prefix tests/js` (run here when the CLI is missing); skipped with the
reason otherwise, unless HABITUS_TEST_REQUIRE_NPM=1 turns that into a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .model_stub import Exchange, ModelStub, ToolCall, request_text, system_text, tool_names

pytestmark = pytest.mark.npm

JS_DIR = Path(__file__).resolve().parent / "js"
CLAUDE = JS_DIR / "node_modules" / ".bin" / "claude"
SESSION_TIMEOUT = 90  # seconds for the whole `claude -p` session; normally 5-15 s
SETTLE_TIMEOUT = 45  # seconds for the session's end to reach the store
COMMAND_TIMEOUT = 60  # one habitus CLI call
ALLOWED_TOOLS = "Bash,Write,Edit,mcp__habitus__remember,mcp__habitus__recall"
HABITUS_TOOLS = ("mcp__habitus__remember", "mcp__habitus__recall")
DEFERRED = "deferred tools are now available"
CONNECTING = "MCP servers are still connecting"

# What the session is about. The seeded convention is in the project scope (so session start
# shows it); the related memory is global (recalled for the project, but never part of the
# session-start context), so only the prompt's recall can bring it.
CONVENTION = ("Convention: banner text is always built with slugs.slugify (the BANNERSLUG rule), "
              "never by formatting the shop name by hand.")
RELATED = ("slugify in slugs.py turns the shop name into the banner slug: lowercase, words "
           "joined with hyphens; the banner printed by app.py depends on it.")
PROMPT_HEAD = "Fix the shop banner crash in app.py"
MODEL_CONVENTION = "Convention: run python3 app.py after changing slugs.py; it prints the banner."
APP = '''"""Print the shop's banner."""
from pathlib import Path

for line in Path("deploy.env").read_text().splitlines():
    print("config:", line)

from slugs import slugify

print(slugify("Hello Shop"))
'''
SLUGS = '''"""Banner slugs."""


def slugify(name: str) -> str:
    """`name` in lower case, its words joined with hyphens."""
    return "-".join(name.lower().split())
'''


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass(frozen=True)
class Secrets:
    """Credentials made up for one run: none of them may end up on habitus's disk."""

    anthropic: str = field(default_factory=lambda: "sk-ant-api03-" + _random(
        string.ascii_letters + string.digits + "-_", 90))
    github: str = field(default_factory=lambda: "ghp_" + _random(
        string.ascii_letters + string.digits, 36))
    aws_id: str = field(default_factory=lambda: "AKIA" + _random(
        string.ascii_uppercase + string.digits, 16))
    aws_secret: str = field(default_factory=lambda: _random(
        string.ascii_letters + string.digits, 40))

    def needles(self) -> dict[str, str]:
        """Label → text to look for: the private marker and several pieces of each key."""
        found = {"private text 'XYZZY'": "XYZZY", "private text 'my secret plan'":
                 "my secret plan"}
        for label, key, body_at in (("Anthropic key", self.anthropic, len("sk-ant-api03-")),
                                    ("GitHub token", self.github, len("ghp_")),
                                    ("AWS access key id", self.aws_id, 0),
                                    ("AWS secret key", self.aws_secret, 0)):
            body = key[body_at:]
            size = 12
            for at in sorted({0, (len(body) - size) // 2, len(body) - size}):
                found[f"{label} [{at}:{at + size}]"] = body[at: at + size]
        return found


@dataclass
class Run:
    """What one Claude Code session left behind, for the checks."""

    mode: str
    home: Path
    repo: Path
    store: Path
    state: Path
    runtime: Path
    prompt: str
    secrets: Secrets
    exchanges: list[Exchange]
    returncode: int | None
    stdout: str
    stderr: str
    debug_log: str
    wall_s: float
    settled_s: float | None
    memories: list[dict[str, Any]]
    export_text: str
    notes: list[str]

    @property
    def main(self) -> list[Exchange]:
        """The requests of the main conversation, in order."""
        return [e for e in self.exchanges if e.role == "main"]

    def connect_ms(self) -> int | None:
        """How long Claude Code took to connect habitus's MCP server, from its own log."""
        found = re.search(r'MCP server "habitus": Successfully connected[^\n]*? in (\d+)ms',
                          self.debug_log)
        return int(found.group(1)) if found else None

    def first_offered(self) -> int | None:
        """The index of the first main request offering habitus's tools (None: never)."""
        return next((i for i, e in enumerate(self.main)
                     if all(t in offered_tools(e.body) for t in HABITUS_TOOLS)), None)

    def log_lines(self, *words: str) -> list[str]:
        """Lines of Claude Code's debug log that mention all `words`."""
        return [line[:400] for line in self.debug_log.splitlines()
                if all(w in line for w in words)]

    def summary(self) -> str:
        """What the session showed, printed with every check."""
        first = self.main[0].body if self.main else {}
        other = sorted({e.path for e in self.exchanges if e.role == "other"})
        hooks = [re.sub(r"\[[^\]]*\] ", "", line.split("Hooks: ", 1)[-1])
                 for line in self.log_lines("Hooks: ", "finished with status")]
        hooks += [line.split("[DEBUG] ", 1)[-1] for line in self.log_lines("SessionEnd:")]
        return "\n".join([
            f"[{self.mode}] claude exit {self.returncode} in {self.wall_s:.1f} s; "
            f"{len(self.main)} main and {sum(e.role == 'side' for e in self.exchanges)} side "
            f"requests, other paths: {other}",
            f"[{self.mode}] habitus MCP connect time logged by Claude Code: "
            f"{self.connect_ms()} ms; first request offers {len(offered_tools(first))} tools, "
            f"habitus's: {[t for t in offered_tools(first) if t.startswith('mcp__habitus__')]}"
            f", still connecting: {connecting(first)}; habitus's tools first offered on main "
            f"request {self.first_offered()} (0 = the first)",
            f"[{self.mode}] hooks: " + "; ".join(hooks),
            f"[{self.mode}] stdio shutdown: "
            + "; ".join(line.split('"habitus": ', 1)[-1] for line in self.log_lines(
                '"habitus"', "SIG")),
            f"[{self.mode}] session end reached the store after {self.settled_s} s; "
            f"{len(self.memories)} memories: "
            + ", ".join(f"{m.get('kind')}/{','.join(m.get('tags') or [])}/{m.get('source')}"
                        for m in self.memories),
            *[f"[{self.mode}] {note}" for note in self.notes],
        ])


# -- reading the requests --------------------------------------------------------------------

def _texts(body: Any) -> list[str]:
    """Every text block of a request: the system prompt's and each message's."""
    out = [system_text(body)]
    for message in body.get("messages") or [] if isinstance(body, dict) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            out.append(content)
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "text":
                out.append(str(block.get("text", "")))
    return out


def _listing(text: str, header: str) -> list[str]:
    """The names listed one per line after the line holding `header`."""
    names: list[str] = []
    for line in text.split(header, 1)[1].split("\n")[1:]:
        if not re.fullmatch(r"[A-Za-z_][\w-]*", line.strip()):
            break
        names.append(line.strip())
    return names


def offered_tools(body: Any) -> list[str]:
    """The tools a request offers: its `tools`, and those it lists as deferred (loaded on
    demand through ToolSearch, the way Claude Code offers MCP tools by default)."""
    names = tool_names(body)
    for text in _texts(body):
        if DEFERRED in text:
            names += _listing(text, DEFERRED)
    return names


def connecting(body: Any) -> list[str]:
    """The MCP servers a request says are still connecting."""
    return [name for text in _texts(body) if CONNECTING in text
            for name in _listing(text, CONNECTING)]


def hook_context(body: Any, event: str) -> list[str]:
    """The context hooks of `event` added to a request (each as Claude Code shows it)."""
    marker = f"{event} hook additional context"
    found = []
    for text in _texts(body):
        for part in text.split(marker)[1:]:
            found.append(re.split(r"\n\n# (?!habitus)|</system-reminder>|\n\n\w+ hook additional "
                                  r"context", part, maxsplit=1)[0])
    return found


def _excerpt(body: Any, limit: int = 3000) -> str:
    text = request_text(body)
    return text if len(text) <= limit else f"{text[:limit // 2]}\n[…]\n{text[-limit // 2:]}"


# -- running things --------------------------------------------------------------------------

def _unavailable(reason: str) -> None:
    """Skip, or fail when the environment demands the npm tests run."""
    if os.environ.get("HABITUS_TEST_REQUIRE_NPM", "") not in ("", "0"):
        pytest.fail(f"{reason} (HABITUS_TEST_REQUIRE_NPM is set)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def claude(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The Claude Code CLI from tests/js (installed with `npm ci` when missing), checked to run."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        _unavailable("node and npm are needed to install and run Claude Code")
    if not CLAUDE.exists():
        try:
            done = subprocess.run([npm, "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"],
                                  capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            _unavailable("`npm ci --prefix tests/js` timed out (is the npm registry reachable?)")
        if done.returncode != 0 or not CLAUDE.exists():
            tail = (done.stdout + done.stderr).strip()[-1500:]
            _unavailable(f"Claude Code is not installed in tests/js and `npm ci --prefix "
                         f"tests/js` failed:\n{tail}")
    try:
        version = subprocess.run([str(CLAUDE), "--version"], capture_output=True, text=True,
                                 timeout=60, env=_base_env(tmp_path_factory.mktemp("claude-home")))
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"{CLAUDE} does not run: {exc}")
    if version.returncode != 0 or "Claude Code" not in version.stdout:
        _unavailable(f"{CLAUDE} --version failed (exit {version.returncode}): "
                     f"{(version.stdout + version.stderr).strip()[-800:]}")
    return str(CLAUDE)


def _habitus() -> list[str]:
    beside = Path(sys.executable).with_name("habitus")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "habitus.cli"]


def _base_env(home: Path) -> dict[str, str]:
    """The environment with nothing of the user's Claude Code, habitus or proxy settings."""
    dropped = ("HABITUS_", "ANTHROPIC_", "CLAUDE", "MCP_", "ENABLE_TOOL_SEARCH", "XDG_")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(dropped) and k.lower() not in ("http_proxy", "https_proxy",
                                                              "all_proxy")}
    env.update(HOME=str(home), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               DISABLE_AUTOUPDATER="1", DISABLE_TELEMETRY="1",
               CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", LANCE_LOG="error",
               PYTHONUNBUFFERED="1")
    return env


def _run(command: list[str], env: dict[str, str], cwd: Path,
         timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done


def _git_repo(repo: Path, secret: Secrets) -> None:
    repo.mkdir(parents=True)
    (repo / "app.py").write_text(APP)
    (repo / "deploy.env").write_text(f"AWS_ACCESS_KEY_ID={secret.aws_id}\n"
                                     f"AWS_SECRET_ACCESS_KEY={secret.aws_secret}\n")
    (repo / ".gitignore").write_text("deploy.env\n")
    for args in (["init", "-q", "-b", "main"],
                 ["remote", "add", "origin", "https://example.com/acme/shop.git"],
                 ["add", "app.py", ".gitignore"],
                 ["-c", "user.name=Shop", "-c", "user.email=shop@example.com", "commit", "-qm",
                  "Banner script"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, timeout=30)


def _script(repo: Path) -> list[list[ToolCall | str]]:
    """The model's turns: remember, recall, a failing command, the fix, the command again."""
    run = {"command": "python3 app.py", "description": "Print the banner"}
    return [
        [ToolCall("mcp__habitus__remember", {"content": MODEL_CONVENTION, "kind": "semantic",
                                             "tags": ["convention"]})],
        [ToolCall("mcp__habitus__recall", {"query": "shop banner slugify"})],
        [ToolCall("Bash", run)],
        ["slugs.py is missing; writing it.",
         ToolCall("Write", {"file_path": str(repo / "slugs.py"), "content": SLUGS})],
        [ToolCall("Bash", run)],
        ["The banner prints again: slugs.slugify lowercases the shop name and joins its words "
         "with hyphens."],
    ]


def _session_memories(store: Path, env: dict[str, str], repo: Path) -> list[dict[str, Any]]:
    done = subprocess.run([*_habitus(), "--db", str(store), "recall", PROMPT_HEAD, "--tags",
                           "session", "--json"], env=env, cwd=repo, capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)
    try:
        return list(json.loads(done.stdout).get("memories") or [])
    except ValueError:
        return []


def _journal_length(store: Path, env: dict[str, str], repo: Path) -> int | None:
    done = subprocess.run([*_habitus(), "--db", str(store), "stats", "--json"], env=env,
                          cwd=repo, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                          stdin=subprocess.DEVNULL)
    try:
        return int(json.loads(done.stdout)["journal"])
    except (ValueError, KeyError, TypeError):
        return None


def _settle(store: Path, env: dict[str, str], repo: Path) -> float | None:
    """Wait until the session's end has reached the store: its summary is there and nothing
    more is being written (the journal stops growing); seconds waited, None on time-out."""
    begin = time.monotonic()
    summary, last = False, None
    while time.monotonic() - begin < SETTLE_TIMEOUT:
        summary = summary or bool(_session_memories(store, env, repo))
        if summary:
            length = _journal_length(store, env, repo)
            if length is not None and length == last:
                return round(time.monotonic() - begin, 1)
            last = length
        time.sleep(0.5)
    return None


def _our_processes(store: Path) -> list[int]:
    """Processes whose command line names the test's store (servers started for it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if str(store).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def _stop_servers(store: Path, env: dict[str, str], repo: Path) -> list[str]:
    """Stop the daemon for the store (it handles what it has taken first), then anything else
    still running for it; what had to be killed."""
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run([*_habitus(), "--db", str(store), "daemon", "stop"], env=env, cwd=repo,
                       capture_output=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)
    killed = []
    for pid in _our_processes(store):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            killed.append(str(pid))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _our_processes(store):
        time.sleep(0.1)
    for pid in _our_processes(store):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return killed


def _run_claude(claude: str, env: dict[str, str], repo: Path, prompt: str,
                debug: Path) -> tuple[int | None, str, str]:
    command = [claude, "-p", prompt, "--allowedTools", ALLOWED_TOOLS, "--debug-file", str(debug),
               "--output-format", "stream-json", "--verbose", "--include-hook-events"]
    process = subprocess.Popen(command, env=env, cwd=repo, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=SESSION_TIMEOUT)
        return process.returncode, out, err
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        return None, out, err + f"\n[killed after {SESSION_TIMEOUT} s]"


@pytest.fixture(scope="module", params=["cold", "warm"])
def session(request: pytest.FixtureRequest, claude: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One Claude Code session against habitus, `cold` or `warm`; what it left behind."""
    mode = request.param
    root = tmp_path_factory.mktemp(f"claude-{mode}")
    home, repo, store = root / "home", root / "repo", root / "store"
    runtime = root / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    secret = Secrets()
    _git_repo(repo, secret)
    env = _base_env(home) | {
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_RUNTIME_DIR": str(runtime),
        "HABITUS_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "cache"),
        "HABITUS_PLUGINS_DIR": str(tmp_path_factory.getbasetemp() / "plugins"),
    }
    habitus = [*_habitus(), "--db", str(store)]
    notes: list[str] = []
    try:
        _run([*habitus, "install", "claude-code"], env, repo)
        _run([*habitus, "install", "claude-code", "--hooks"], env, repo)
        _run([*habitus, "remember", CONVENTION, "--kind", "semantic", "--tags", "convention"],
             env, repo)
        _run([*habitus, "remember", RELATED, "--kind", "semantic", "--scope", "global"], env, repo)
        if mode == "warm":
            _run([*habitus, "daemon", "start"], env, repo)
        prompt = (f"{PROMPT_HEAD}: the banner needs slugify from slugs.py, which lowercases the "
                  "shop name and joins its words with hyphens. <private>my secret plan XYZZY"
                  f"</private> The deploy key is {secret.anthropic} and the CI token is "
                  f"{secret.github}.")
        debug = root / "claude-debug.log"
        with ModelStub(_script(repo)) as stub:
            env_claude = env | {"ANTHROPIC_BASE_URL": stub.url,
                                "ANTHROPIC_API_KEY": "sk-test-not-a-real-key"}
            started = time.monotonic()
            code, out, err = _run_claude(claude, env_claude, repo, prompt, debug)
            wall = time.monotonic() - started
            exchanges = stub.requests()
        settled = _settle(store, env, repo)
        killed = _stop_servers(store, env, repo)
        if killed:
            notes.append(f"still running after `habitus daemon stop` and stopped: pids {killed}")
        export = root / "export.jsonl"
        _run([*habitus, "export", str(export)], env, repo)
        export_text = export.read_text()
        memories = [item for line in export_text.splitlines() if line.strip()
                    for item in [json.loads(line)] if item.get("type") == "memory"]
        daemon_logs = sorted((home / ".local" / "state" / "habitus").glob("daemon-*.log"))
        for log in daemon_logs:
            tail = log.read_text(errors="replace").strip().splitlines()[-12:]
            if tail:
                notes.append(f"{log.name} (last lines):\n    " + "\n    ".join(tail))
        run = Run(mode=mode, home=home, repo=repo, store=store,
                  state=home / ".local" / "state" / "habitus", runtime=runtime / "habitus",
                  prompt=prompt, secrets=secret, exchanges=exchanges, returncode=code,
                  stdout=out, stderr=err,
                  debug_log=debug.read_text(errors="replace") if debug.exists() else "",
                  wall_s=wall, settled_s=settled, memories=memories,
                  export_text=export_text, notes=notes)
        _report(request, run.summary())
        yield run
    finally:
        _stop_servers(store, env, repo)


def _report(request: pytest.FixtureRequest, text: str) -> None:
    """Show `text` in the test output (beside captured output)."""
    plugins = request.config.pluginmanager
    reporter = plugins.getplugin("terminalreporter")
    capture = plugins.getplugin("capturemanager")
    if reporter is None or capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in text.splitlines():
            reporter.write_line(line)


def _memories(run: Run, tag: str) -> list[dict[str, Any]]:
    return [m for m in run.memories if tag in (m.get("tags") or []) and not m.get("deleted")]


def _listing_of(run: Run) -> str:
    return "\n".join(f"  - [{m.get('kind')}/{','.join(m.get('tags') or [])}] {m.get('content')}"
                     for m in run.memories)


# -- the checks ------------------------------------------------------------------------------

def test_session_ran_to_the_end(session: Run) -> None:
    """Claude Code finished the scripted session: every turn was asked for, exit 0."""
    turns = [e.turn for e in session.main]
    assert session.returncode == 0, (
        f"claude exited {session.returncode}\nstderr:\n{session.stderr[-3000:]}\n"
        f"stdout:\n{session.stdout[-3000:]}")
    assert turns and max(t or 0 for t in turns) >= 5, (
        f"the script's turns answered: {turns}\n{session.summary()}")


def test_habitus_tools_on_first_request(session: Run) -> None:
    """[connect in time] habitus's tools are offered on the first request of the session.

    Claude Code connects MCP servers without blocking in print mode; this fails when habitus
    had not finished connecting when the first request went out (see the connect time)."""
    assert session.main, f"no main request reached the model\n{session.summary()}"
    first = session.main[0].body
    offered = offered_tools(first)
    missing = [t for t in HABITUS_TOOLS if t not in offered]
    assert not missing, (
        f"[connect in time] {missing} not offered on the first request; Claude Code logged a "
        f"connect time of {session.connect_ms()} ms for habitus; still connecting: "
        f"{connecting(first)}; tools offered: {offered}\n"
        + "\n".join(session.log_lines('"habitus"', "connect")))


def test_convention_injected_at_session_start(session: Run) -> None:
    """The convention stored before the session reaches the model as session-start context."""
    assert session.main, f"no main request reached the model\n{session.summary()}"
    contexts = hook_context(session.main[0].body, "SessionStart")
    assert any(CONVENTION in c for c in contexts), (
        f"the seeded convention is not in the first request's SessionStart context; contexts "
        f"found: {contexts}\n"
        + "\n".join(session.log_lines("SessionStart")[:6])
        + f"\nfirst request (excerpt):\n{_excerpt(session.main[0].body)}")


def test_related_memory_injected_with_prompt(session: Run) -> None:
    """A memory close to the prompt reaches the model as the prompt's context."""
    assert session.main, f"no main request reached the model\n{session.summary()}"
    contexts = hook_context(session.main[0].body, "UserPromptSubmit")
    assert any(RELATED in c for c in contexts), (
        f"the related memory is not in the first request's UserPromptSubmit context; contexts "
        f"found: {contexts}\n" + "\n".join(session.log_lines("UserPromptSubmit")[:6]))


def test_model_tool_calls_answered(session: Run) -> None:
    """The model's remember and recall calls reached habitus and were answered."""
    results: dict[str, str] = {}
    for exchange in session.main:
        messages = exchange.body.get("messages") or []
        calls = {b.get("id"): b.get("name") for m in messages if m.get("role") == "assistant"
                 for b in m.get("content") or [] if isinstance(b, dict)
                 and b.get("type") == "tool_use"}
        for m in messages:
            for block in m.get("content") or [] if isinstance(m.get("content"), list) else []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    name = calls.get(block.get("tool_use_id"))
                    text = json.dumps(block.get("content"))
                    results[str(name)] = ("error: " if block.get("is_error") else "") + text
    for tool in HABITUS_TOOLS:
        assert tool in results and not results[tool].startswith("error"), (
            f"{tool}: {results.get(tool, 'no result')[:600]}")
    assert "slugs.slugify" in results["mcp__habitus__recall"], results["mcp__habitus__recall"]
    assert any(m.get("content") == MODEL_CONVENTION and m.get("source") == "assistant"
               for m in session.memories) or "absorbed" in results["mcp__habitus__remember"], (
        f"the model's convention is not in the store:\n{_listing_of(session)}")


def test_error_fix_captured(session: Run) -> None:
    """The failing command and the fix that followed are remembered as an error → fix."""
    found = _memories(session, "error-fix")
    assert any("python3 app.py" in m["content"] and "slugs.py" in m["content"]
               and "ModuleNotFoundError" in m["content"] for m in found), (
        f"no error → fix memory for `python3 app.py` / slugs.py; memories after the session:\n"
        f"{_listing_of(session)}\n{session.summary()}")


def test_session_summary_captured(session: Run) -> None:
    """The session's end is summarised, naming its prompt."""
    found = _memories(session, "session")
    assert any(PROMPT_HEAD in m["content"] for m in found), (
        f"no session summary naming {PROMPT_HEAD!r} (settled after {session.settled_s} s); "
        f"memories after the session:\n{_listing_of(session)}\n{session.summary()}")


def test_stdio_server_stops_on_sigint(session: Run) -> None:
    """At exit Claude Code sends habitus's stdio server SIGINT (SIGTERM ~100 ms later when it
    is still running): it stops on the first."""
    lines = session.log_lines('"habitus"', "SIG")
    assert lines and not any("SIGINT failed" in line for line in lines), (
        "habitus's stdio server did not stop on SIGINT:\n" + "\n".join(lines))


def test_no_private_text_or_keys_on_disk(session: Run) -> None:
    """Nothing marked private and no key from the prompt or a command's output is anywhere
    under the store, habitus's state directory or its runtime directory (nor in an export)."""
    needles = {label: text.encode() for label, text in session.secrets.needles().items()}
    roots = [session.store, session.state, session.runtime]
    files = [p for root in roots if root.exists() for p in sorted(root.rglob("*")) if p.is_file()]
    # The search reads what is really stored: the convention seeded in plain text is found.
    control = b"BANNERSLUG"
    assert any(control in p.read_bytes() for p in files if session.store in p.parents), (
        "the seeded convention's text is not found in the store's files: the byte search "
        "cannot see stored text")
    leaks: list[str] = []
    for path in files:
        data = path.read_bytes()
        hits = [label for label, needle in needles.items() if needle in data]
        if hits:
            leaks.append(f"{path.relative_to(session.home.parent)}: {', '.join(hits)}")
    export_hits = [label for label, needle in needles.items()
                   if needle.decode() in session.export_text]
    if export_hits:
        leaks.append(f"`habitus export`: {', '.join(export_hits)}")
    held = [f"  - [{m.get('kind')}/{','.join(m.get('tags') or [])}/{m.get('tool')}] at "
            + ", ".join(f"{where} ({label})" for where, label in places)
            + f": {str(m.get('content'))[:300]}"
            for m in session.memories
            for places in [_holding(m, {k: v.decode() for k, v in needles.items()})] if places]
    assert not leaks, (
        f"{len(leaks)} places hold private text or key fragments:\n  " + "\n  ".join(leaks)
        + "\nmemories holding them (field: what):\n" + "\n".join(held))


def _holding(value: Any, needles: dict[str, str], where: str = "") -> list[tuple[str, str]]:
    """The fields of `value` (a memory as exported) holding any of `needles`, and which."""
    if isinstance(value, str):
        return [(where or "value", label) for label, text in needles.items() if text in value]
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, list) else [])
    return [found for key, item in items
            for found in _holding(item, needles, f"{where}.{key}" if where else str(key))]
