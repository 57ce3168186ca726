"""A scripted stand-in for the Anthropic Messages API on 127.0.0.1, for running a real client
(Claude Code) offline.

`POST /v1/messages` answers the client's main conversation from a script: turn N of the script
is the answer to a request whose conversation already holds N assistant messages, so a retried
request gets the same answer and the client's side requests (titles, summaries, quota checks,
topic detection) never move the script on. A request belongs to the main conversation when it
offers the tools the script calls (`is_main`); everything else gets a short text. Answers are
streamed as server-sent events when asked (`message_start`, `content_block_start`,
`content_block_delta` with `text_delta` or `input_json_delta`, `content_block_stop`,
`message_delta` with the stop reason, `message_stop`), as one JSON message otherwise.
`/v1/messages/count_tokens` answers an estimate, `GET /v1/models` the one model; other paths a
404 in the API's error format.
Every request is kept in `exchanges`, body parsed, for the test to inspect.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ToolCall", "Turn", "Exchange", "ModelStub", "offers_tool", "system_text",
           "request_text", "tool_names"]

log = logging.getLogger("model_stub")

MODEL = "claude-sonnet-4-5-20250929"
SIDE_ANSWER = "Fixing the banner"
FINAL_ANSWER = "Done."
JSON_CHUNK = 24  # characters of a tool call's input per input_json_delta


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model makes."""

    name: str
    input: dict[str, Any]


Turn = Sequence[ToolCall | str]  # one assistant message: text and tool calls, in order


@dataclass
class Exchange:
    """One request the client made and how it was classified."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    role: str  # "main" | "side" | "count" | "other"
    turn: int | None = None  # the script's turn answered (main requests)
    at: float = field(default_factory=time.monotonic)


def system_text(body: Any) -> str:
    """The system prompt of a Messages request as one string."""
    system = body.get("system") if isinstance(body, dict) else None
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
    return ""


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    if block.get("type") == "text":
        return str(block.get("text", ""))
    if block.get("type") == "tool_result":
        return _content_text(block.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_block_text(b) for b in content)
    return ""


def request_text(body: Any) -> str:
    """Everything a Messages request shows the model as text: system prompt and messages."""
    messages = body.get("messages") if isinstance(body, dict) else None
    parts = [system_text(body)]
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            parts.append(_content_text(message.get("content")))
    return "\n".join(parts)


def tool_names(body: Any) -> list[str]:
    """The names of the tools a Messages request offers."""
    tools = body.get("tools") if isinstance(body, dict) else None
    return [str(t.get("name")) for t in tools or [] if isinstance(t, dict)]


def offers_tool(name: str) -> Callable[[Any], bool]:
    """A main-conversation test: the request offers the tool `name`."""
    return lambda body: name in tool_names(body)


class ModelStub:
    """The stand-in server; use as a context manager, or `start()` and `stop()`."""

    def __init__(self, turns: Sequence[Turn], *,
                 is_main: Callable[[Any], bool] | None = None) -> None:
        self.turns = list(turns)
        self.is_main = is_main or offers_tool("Bash")
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ModelStub:
        """Listen on a free loopback port."""
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

            def do_POST(self) -> None:
                stub._serve(self)

            def do_GET(self) -> None:
                stub._serve(self)

            def do_HEAD(self) -> None:
                stub._serve(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="model-stub")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ModelStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give the client (ANTHROPIC_BASE_URL)."""
        assert self._server is not None, "the stub is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- what was asked ----------------------------------------------------------------------
    def requests(self, role: str | None = None) -> list[Exchange]:
        """The requests received so far (of one `role`), in order."""
        with self._lock:
            return [e for e in self.exchanges if role is None or e.role == role]

    def messages_requests(self) -> list[Exchange]:
        """Every POST /v1/messages (main and side), in order."""
        return [e for e in self.requests() if e.role in ("main", "side")]

    # -- answering ---------------------------------------------------------------------------
    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = handler.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in handler.headers.items()
                   if k.lower() not in ("x-api-key", "authorization")}
        method = handler.command
        if method == "POST" and path == "/v1/messages/count_tokens":
            self._record(Exchange(method, path, headers, body, "count"))
            tokens = max(1, len(json.dumps(body)) // 4)
            self._send_json(handler, 200, {"input_tokens": tokens})
            return
        if method == "POST" and path == "/v1/messages" and isinstance(body, dict):
            main = self.is_main(body)
            turn = self._turn_of(body) if main else None
            self._record(Exchange(method, path, headers, body, "main" if main else "side", turn))
            content = self._script(turn) if turn is not None else [SIDE_ANSWER]
            self._answer(handler, body, content)
            return
        self._record(Exchange(method, path, headers, body, "other"))
        if method in ("GET", "HEAD") and path == "/v1/models":
            self._send_json(handler, 200, {"data": [{
                "type": "model", "id": MODEL, "display_name": "Scripted model",
                "created_at": "2026-01-01T00:00:00Z"}], "has_more": False,
                "first_id": MODEL, "last_id": MODEL})
            return
        self._send_json(handler, 404, {"type": "error", "error": {
            "type": "not_found_error", "message": f"{method} {path} is not served here"}})

    @staticmethod
    def _turn_of(body: dict[str, Any]) -> int:
        messages = body.get("messages") or []
        return sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")

    def _script(self, turn: int) -> list[ToolCall | str]:
        return list(self.turns[turn]) if turn < len(self.turns) else [FINAL_ANSWER]

    def _blocks(self, content: list[ToolCall | str]) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for item in content:
            if isinstance(item, ToolCall):
                blocks.append({"type": "tool_use", "id": f"toolu_stub{next(self._ids):06d}",
                               "name": item.name, "input": item.input})
            else:
                blocks.append({"type": "text", "text": item})
        return blocks

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any],
                content: list[ToolCall | str]) -> None:
        blocks = self._blocks(content)
        stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        message = {
            "id": f"msg_stub{next(self._ids):06d}", "type": "message", "role": "assistant",
            "model": body.get("model") or MODEL, "content": blocks, "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": max(1, len(json.dumps(body)) // 4), "output_tokens": 8,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }
        if not body.get("stream"):
            self._send_json(handler, 200, message)
            return
        events: list[tuple[str, dict[str, Any]]] = [("message_start", {
            "type": "message_start",
            "message": message | {"content": [], "stop_reason": None,
                                  "usage": message["usage"] | {"output_tokens": 1}}})]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                events.append(("content_block_start", {
                    "type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}}))
                events.append(("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": block["text"]}}))
            else:
                events.append(("content_block_start", {
                    "type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": block["id"],
                                      "name": block["name"], "input": {}}}))
                text = json.dumps(block["input"])
                for at in range(0, len(text), JSON_CHUNK):
                    events.append(("content_block_delta", {
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta",
                                  "partial_json": text[at: at + JSON_CHUNK]}}))
            events.append(("content_block_stop", {"type": "content_block_stop",
                                                  "index": index}))
        events.append(("message_delta", {
            "type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": 8}}))
        events.append(("message_stop", {"type": "message_stop"}))
        payload = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n"
                          for name, data in events).encode("utf-8")
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("request-id", f"req_stub{next(self._ids):06d}")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
        handler.wfile.flush()

    @staticmethod
    def _send_json(handler: BaseHTTPRequestHandler, status: int, data: Any) -> None:
        payload = json.dumps(data).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("request-id", "req_stub")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)
