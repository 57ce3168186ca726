"""The stdio front: `habitus serve` answers the first requests before the full server has
loaded, exactly as the full server would, hands everything else over in order, and leaves
promptly on SIGINT and SIGTERM without losing an acknowledged write.

Spawned servers are real processes spoken to over their pipes. To know for certain that an
answer came before the full server had loaded, some tests install a plugin whose import waits
for a file the test creates (the "gate"): the full server cannot serve until then.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from habitus.core.config import Settings
from habitus.plugins.manager import PluginManager
from habitus.server.app import build_server
from habitus.server.early import CLIENT_CAPABILITIES, CLIENT_INFO, PROTOCOL_VERSION
from habitus.server.handover import Handover
from habitus.server.manifest import SHIPPED, Manifest, cache_file, current_key, plugin_folders
from habitus.server.recorder import builtin_manifest, exchange
from habitus.server.runtime import Runtime
from tests.servers import habitus_command, server_env, stdio_params

WAIT = 60.0  # seconds before a test gives up waiting for an answer (normally well under 5)

GATE_PLUGIN = '''
import os
import time
from pathlib import Path

from habitus.plugins import hookimpl

_gate = Path(os.environ["GATE_FILE"])
_give_up = time.monotonic() + 60
while not _gate.exists() and time.monotonic() < _give_up:
    time.sleep(0.02)


@hookimpl
def register_tools(register):
    def gated_echo(text: str) -> str:
        """Echo the text back."""
        return text

    register(gated_echo)
'''


class Pipe:
    """`habitus serve` spawned with its stdin and stdout as pipes, spoken to line by line."""

    def __init__(self, db: Path, env: dict[str, str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen([*habitus_command(), "--db", str(db), "serve"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd)
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()
        self._stderr: list[bytes] = []
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr.extend(self.proc.stderr)

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")

    def send(self, *messages: dict[str, Any] | str) -> None:
        assert self.proc.stdin is not None
        for message in messages:
            text = message if isinstance(message, str) else json.dumps(message) + "\n"
            self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def wait_for(self, wanted: Any, what: str = "") -> dict[str, Any]:
        """The first message seen for which `wanted(message)` holds (waiting for it)."""
        for seen in self.seen:
            if wanted(seen):
                return seen
        deadline = time.monotonic() + WAIT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"nothing came for {what}; stderr:\n"
                                     f"{self.stderr[-3000:]}") from None
            message = json.loads(line)
            message["_line"] = line.decode().rstrip("\n")
            self.seen.append(message)
            if wanted(message):
                return message

    def raw(self, request_id: Any) -> str:
        """The line answering `request_id` (waiting for it)."""
        return self.wait_for(lambda m: m.get("id") == request_id, repr(request_id))["_line"]

    def answer(self, request_id: Any) -> dict[str, Any]:
        return json.loads(self.raw(request_id))

    def close(self) -> int:
        """Close stdin and wait for the process to end."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=WAIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def pipes() -> Iterator[list[Pipe]]:
    """Spawned servers, ended after the test whatever happens."""
    started: list[Pipe] = []
    yield started
    for pipe in started:
        if pipe.proc.poll() is None:
            pipe.proc.kill()
            pipe.proc.wait()


def hello(version: str = "2025-11-25", number: int = 1, **params: Any) -> dict[str, Any]:
    base = {"protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "test-client", "version": "1.0"}}
    return request(number, "initialize", {**base, **params})


def request(number: Any, method: str, params: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": number, "method": method}
    if params is not None:
        message["params"] = params
    return message


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def envelope(version: str = "2026-07-28", **extra: Any) -> dict[str, Any]:
    meta = {PROTOCOL_VERSION: version, CLIENT_CAPABILITIES: {},
            CLIENT_INFO: {"name": "test-client", "version": "1.0"}}
    return {"_meta": {**meta, **extra}}


def builtin_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A spawned server with the built-in plugins only (the shipped manifest's set)."""
    return server_env(HABITUS_PLUGINS="builtin", HABITUS_CACHE_DIR=str(tmp_path / "cache"),
                      **extra)


# Requests sent at once after spawning, then compared line for line with what the full server
# answers to the same requests (over the SDK's stdio transport, in this process).
VARIANTS: dict[str, list[dict[str, Any]]] = {
    **{f"handshake {v}": [hello(v), INITIALIZED, request(2, "tools/list"), request(3, "ping"),
                          request(4, "resources/list"), request(5, "resources/templates/list"),
                          request(6, "prompts/list")]
       for v in ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")},
    "unknown version": [hello("2099-01-01"), INITIALIZED, request(2, "tools/list")],
    "version of the stateless era": [hello("2026-07-28"), request(2, "tools/list")],
    "client capabilities": [
        hello(capabilities={"roots": {"listChanged": True}, "sampling": {"tools": {}},
                            "elicitation": {"form": {}, "url": {}},
                            "experimental": {"x": {"y": 1}}}),
        request("two", "tools/list", {"_meta": {"progressToken": 7}})],
    "odd capabilities": [hello(capabilities={"roots": True}), request(2, "tools/list")],
    "odd client": [hello(clientInfo={"name": "x"}), request(2, "tools/list")],
    "list with a cursor": [hello(), request(2, "tools/list", {"cursor": "abc"})],
    "list before initialize": [request(1, "tools/list"), hello(number=2)],
    "initialize twice": [hello(), hello("2024-11-05", number=2), request(3, "tools/list")],
    "stateless era": [request(1, "server/discover", envelope()),
                      request(2, "tools/list", envelope()),
                      request(3, "resources/list", envelope()),
                      request(4, "ping", envelope())],
    "stateless era, no client info": [
        request(1, "server/discover", {"_meta": {PROTOCOL_VERSION: "2026-07-28",
                                                 CLIENT_CAPABILITIES: {}}})],
    "stateless era, unknown version": [request(1, "server/discover", envelope("2030-01-01")),
                                       request(2, "tools/list", envelope())],
    "stateless then handshake": [request(1, "server/discover", envelope()), hello(number=2)],
    "stateless envelope on a handshake session": [hello(), request(2, "tools/list",
                                                                   envelope())],
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_early_answers_are_the_full_servers(name: str, tmp_path: Path, pipes: list[Pipe]) -> None:
    messages = VARIANTS[name]
    runtime = Runtime(Settings(db=str(tmp_path / "ref")),
                      plugins=PluginManager(entry_points=(), environ={}))
    expected = anyio.run(exchange, build_server(runtime), messages)
    pipe = Pipe(tmp_path / "store", builtin_env(tmp_path))
    pipes.append(pipe)
    pipe.send(*messages)
    for message in messages:
        if "id" in message:
            assert pipe.raw(message["id"]) == expected[message["id"]], message
    assert pipe.close() == 0
    # Nothing else reached the client (the copies sent to the full server were answered to it).
    assert {m.get("id") for m in pipe.seen} == {m["id"] for m in messages if "id" in m}


def test_shipped_manifest_is_what_the_server_answers() -> None:
    """The manifest in the package equals what `build_server` answers with the built-in
    plugins; after changing a tool or the instructions, run
    `python -m habitus.server.recorder` to rebuild it."""
    shipped = Manifest.from_json(SHIPPED.read_text(encoding="utf-8"))
    assert shipped == anyio.run(builtin_manifest), "run: python -m habitus.server.recorder"


def test_plugin_folders_are_the_plugin_managers(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HABITUS_PLUGINS_DIR", str(tmp_path / "mine"))
    manager = PluginManager.from_environment(tmp_path / "project")
    assert plugin_folders(tmp_path / "project") == manager.folders


def gated(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment of a server whose full start waits for the returned gate file."""
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "gate.py").write_text(GATE_PLUGIN, encoding="utf-8")
    gate = tmp_path / "gate"
    env = server_env(HABITUS_PLUGINS_DIR=str(plugins), HABITUS_CACHE_DIR=str(tmp_path / "cache"),
                     GATE_FILE=str(gate))
    return env, gate


def tool_names(answer: dict[str, Any]) -> list[str]:
    return [tool["name"] for tool in answer["result"]["tools"]]


def first_start(tmp_path: Path, env: dict[str, str], gate: Path, pipes: list[Pipe]) -> Path:
    """Start once with the gate open, so the server files its answers for this plugin set;
    the cached manifest."""
    gate.touch()
    pipe = Pipe(tmp_path / "store", env)
    pipes.append(pipe)
    pipe.send(hello(), INITIALIZED, request(2, "tools/list"))
    assert "gated_echo" in tool_names(pipe.answer(2))
    assert pipe.close() == 0
    cached = list((tmp_path / "cache" / "stdio").glob("*.json"))
    assert len(cached) == 1, pipe.stderr
    gate.unlink()
    return cached[0]


def test_answers_before_the_server_loads_then_hands_over_in_order(
    tmp_path: Path, pipes: list[Pipe]
) -> None:
    env, gate = gated(tmp_path)
    first_start(tmp_path, env, gate, pipes)
    pipe = Pipe(tmp_path / "store", env)
    pipes.append(pipe)
    pipe.send(hello(), INITIALIZED, request(2, "tools/list"))
    assert pipe.answer(1)["result"]["serverInfo"]["name"] == "habitus"
    assert "gated_echo" in tool_names(pipe.answer(2))  # from the manifest filed last time
    assert not gate.exists()  # so the full server had not loaded: answered early
    # Requests the front cannot answer wait for the full server, in order, with others that
    # it answers at once in between.
    pipe.send(request(3, "tools/call", {"name": "remember",
                                        "arguments": {"content": "Deploys go out on Tuesdays."}}),
              request(4, "ping"),
              request(5, "tools/call", {"name": "gated_echo", "arguments": {"text": "hi"}}),
              request(6, "tools/list"),
              {"jsonrpc": "2.0", "method": "notifications/cancelled",
               "params": {"requestId": 99}})
    assert pipe.raw(4) == '{"jsonrpc":"2.0","id":4,"result":{}}'
    assert pipe.raw(6) == pipe.raw(2).replace('"id":2', '"id":6', 1)
    assert {m["id"] for m in pipe.seen} == {1, 2, 4, 6}  # the calls wait for the full server
    gate.touch()
    for number in range(7, 27):  # more messages while the full server takes over
        pipe.send(request(number, "ping") if number % 2 else request(number, "tools/list"))
    assert pipe.answer(3)["result"]["structuredContent"]["status"] == "created"
    assert pipe.answer(5)["result"]["structuredContent"] == {"result": "hi"}
    for number in range(7, 27):
        assert "result" in pipe.answer(number), number
    pipe.send(request(30, "tools/call", {"name": "recall",
                                         "arguments": {"query": "when do deploys go out"}}))
    found = pipe.answer(30)["result"]["structuredContent"]["memories"]
    assert found[0]["content"] == "Deploys go out on Tuesdays."
    assert pipe.close() == 0
    assert sorted(m["id"] for m in pipe.seen) == [1, 2, 3, 4, 5, *range(6, 27), 30]


def test_an_out_of_date_tool_list_is_corrected(tmp_path: Path, pipes: list[Pipe]) -> None:
    env, gate = gated(tmp_path)
    cached = first_start(tmp_path, env, gate, pipes)
    stale = cached.read_text(encoding="utf-8").replace("Echo the text back.", "Echo it.")
    cached.write_text(stale, encoding="utf-8")
    pipe = Pipe(tmp_path / "store", env)
    pipes.append(pipe)
    pipe.send(hello("2025-06-18"), INITIALIZED, request(2, "tools/list"))
    assert "Echo it." in pipe.raw(2)
    gate.touch()
    pipe.wait_for(lambda m: m.get("method") == "notifications/tools/list_changed", "list_changed")
    pipe.send(request(3, "tools/list"))
    assert "Echo the text back." in pipe.raw(3)
    assert pipe.close() == 0
    assert "Echo the text back." in cached.read_text(encoding="utf-8")  # filed for next time
    assert "out of date" in pipe.stderr


def test_an_unreadable_cached_manifest_is_set_aside(tmp_path: Path, pipes: list[Pipe],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HABITUS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HABITUS_PLUGINS", "builtin")
    broken = cache_file(current_key(None))
    broken.parent.mkdir(parents=True)
    broken.write_text('{"key": {"format": 1}, "results": ["{not json"]}', encoding="utf-8")
    runtime = Runtime(Settings(db=str(tmp_path / "ref")),
                      plugins=PluginManager(entry_points=(), environ={}))
    messages = [hello(), INITIALIZED, request(2, "tools/list")]
    expected = anyio.run(exchange, build_server(runtime), messages)
    pipe = Pipe(tmp_path / "store", builtin_env(tmp_path))
    pipes.append(pipe)
    pipe.send(*messages)
    assert pipe.raw(1) == expected[1] and pipe.raw(2) == expected[2]
    assert pipe.close() == 0
    assert "ignoring the start-up manifest" in pipe.stderr
    assert not broken.exists()


def test_the_handshake_says_the_tool_list_may_change(tmp_path: Path, pipes: list[Pipe]) -> None:
    pipe = Pipe(tmp_path / "store", builtin_env(tmp_path))
    pipes.append(pipe)
    pipe.send(hello())
    assert pipe.answer(1)["result"]["capabilities"]["tools"] == {"listChanged": True}
    assert pipe.close() == 0


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_call_right_after_the_handshake(mode: str, tmp_path: Path) -> None:
    """The SDK's own client, in the stateless era (auto) and the handshake era (legacy): the
    first call is made before the store is open, and is answered when it is."""
    params = stdio_params(tmp_path / "store", HABITUS_CACHE_DIR=str(tmp_path / "cache"),
                          HABITUS_PLUGINS="builtin")
    async with Client(params, mode=mode) as client:  # type: ignore[arg-type]
        stored = await client.call_tool("remember", {"content": "Lint with ruff before pushing."})
        assert stored.structured_content["status"] == "created"
        assert len((await client.list_tools()).tools) == 8
        found = await client.call_tool("recall", {"query": "lint before pushing"})
        assert found.structured_content["memories"][0]["id"] == stored.structured_content["id"]


def test_bad_input_gets_errors_and_the_server_keeps_serving(
    tmp_path: Path, pipes: list[Pipe]
) -> None:
    pipe = Pipe(tmp_path / "store", builtin_env(tmp_path))
    pipes.append(pipe)
    pipe.send("not json\n", "[1, 2]\n", '{"jsonrpc": "2.0", "id": 1, "method": 5}\n',
              '{"jsonrpc": "2.0", "id": NaN, "method": "ping"}\n', hello(number=2),
              request(3, "tools/list"))
    assert pipe.answer(2)["result"]["protocolVersion"] == "2025-11-25"
    assert tool_names(pipe.answer(3))
    assert pipe.close() == 0
    assert all("error" in m for m in pipe.seen if m.get("id") not in (2, 3))


def test_a_message_longer_than_a_read_arrives_whole(tmp_path: Path, pipes: list[Pipe]) -> None:
    pipe = Pipe(tmp_path / "store", builtin_env(tmp_path))
    pipes.append(pipe)
    query = "é" * 300_000  # 600 kB of UTF-8, read in many pieces
    pipe.send(hello(), INITIALIZED,
              request(2, "tools/call", {"name": "recall", "arguments": {"query": query}}),
              request(3, "ping"))
    assert pipe.answer(3)["result"] == {}
    refused = pipe.answer(2)["result"]
    assert refused["isError"] and "at most 2000 characters" in refused["content"][0]["text"]
    assert pipe.close() == 0


def remember_then_signal(tmp_path: Path, env: dict[str, str], signals: tuple[int, ...],
                         pipes: list[Pipe]) -> float:
    """Remember through a fresh server, then send it `signals` 0.1 s apart (as Claude Code
    does) once the write is acknowledged; seconds until it exited."""
    pipe = Pipe(tmp_path / "store", env)
    pipes.append(pipe)
    pipe.send(hello(), INITIALIZED,
              request(2, "tools/call", {"name": "remember",
                                        "arguments": {"content": "Backups run at 02:00 UTC."}}))
    assert pipe.answer(2)["result"]["structuredContent"]["status"] == "created"
    started = time.monotonic()
    for signum in signals:
        if pipe.proc.poll() is None:
            pipe.proc.send_signal(signum)
            time.sleep(0.1)
    pipe.proc.wait(timeout=WAIT)
    return time.monotonic() - started


@pytest.mark.anyio
@pytest.mark.parametrize("signals", [(signal.SIGINT,), (signal.SIGTERM,),
                                     (signal.SIGINT, signal.SIGTERM)],
                         ids=["SIGINT", "SIGTERM", "SIGINT then SIGTERM"])
async def test_a_signal_ends_the_server_and_keeps_acknowledged_writes(
    signals: tuple[int, ...], tmp_path: Path, pipes: list[Pipe]
) -> None:
    took = remember_then_signal(tmp_path, builtin_env(tmp_path), signals, pipes)
    assert took < 3.0  # it leaves within STOP_GRACE (1.5 s) by design; loose for busy machines
    assert pipes[0].proc.returncode == 0
    async with Client(stdio_params(tmp_path / "store")) as client:
        found = await client.call_tool("recall", {"query": "when do backups run"})
        assert found.structured_content["memories"][0]["content"] == "Backups run at 02:00 UTC."


def test_a_signal_while_the_server_loads(tmp_path: Path, pipes: list[Pipe]) -> None:
    env, gate = gated(tmp_path)
    first_start(tmp_path, env, gate, pipes)
    pipe = Pipe(tmp_path / "store", env)
    pipes.append(pipe)
    pipe.send(hello(), INITIALIZED, request(2, "tools/list"),
              request(3, "tools/call", {"name": "recall", "arguments": {"query": "x"}}))
    pipe.answer(2)
    started = time.monotonic()
    pipe.proc.send_signal(signal.SIGINT)
    assert pipe.proc.wait(timeout=WAIT) == 0
    assert time.monotonic() - started < 3.0
    assert not gate.exists()


def test_handover_keeps_the_order_of_messages_across_the_switch() -> None:
    """Lines taken while the full server attaches from another thread reach it exactly once,
    in the order they came, whatever the moment of the switch."""
    read, write = os.pipe()
    try:
        for switch_after in (0, 1, 50, 500):
            handover = Handover(None, None, write)
            received: list[str | None] = []
            ready = threading.Event()

            def attach(handover: Handover = handover, received: list[str | None] = received,
                       ready: threading.Event = ready) -> None:
                ready.wait()
                assert handover.attach(received.append, received.append)

            server = threading.Thread(target=attach)
            server.start()
            lines = [json.dumps(request(n, "tools/call")) + "\n" for n in range(1000)]
            for n, line in enumerate(lines):
                if n == switch_after:
                    ready.set()
                handover.take(line)
            server.join()
            assert handover.end_of_input()
            assert received == [*lines, None]
    finally:
        os.close(read)
        os.close(write)
