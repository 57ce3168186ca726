"""The Messages API stand-in the Claude Code test runs against: script, streaming, side requests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from .model_stub import ModelStub, ToolCall

pytestmark = pytest.mark.fast


def _post(url: str, body: dict[str, Any]) -> tuple[int, str, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "x-api-key": "sk-test"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def _events(stream: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for chunk in stream.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


MAIN = {"model": "m", "max_tokens": 100, "stream": True,
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "go"}]}


def test_main_turns_stream_tool_calls_then_text() -> None:
    """The main conversation gets turn N after N assistant messages, streamed as the API does."""
    call = ToolCall("Bash", {"command": "python3 -c 'print(1)'", "description": "x" * 40})
    with ModelStub([[call], ["All done."]]) as stub:
        status, kind, body = _post(f"{stub.url}/v1/messages", MAIN)
        assert status == 200 and kind.startswith("text/event-stream")
        events = _events(body)
        names = [name for name, _ in events]
        assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
        start = next(d for n, d in events if n == "content_block_start")
        assert start["content_block"]["type"] == "tool_use"
        assert start["content_block"]["name"] == "Bash"
        partial = "".join(d["delta"]["partial_json"] for n, d in events
                          if n == "content_block_delta")
        assert json.loads(partial) == call.input
        assert sum(n == "content_block_delta" for n in names) > 1  # the input comes in pieces
        assert events[-2][1]["delta"]["stop_reason"] == "tool_use"

        tool_use = {"type": "tool_use", "id": start["content_block"]["id"], "name": "Bash",
                    "input": call.input}
        later = MAIN | {"messages": [*MAIN["messages"],
                                     {"role": "assistant", "content": [tool_use]},
                                     {"role": "user", "content": [{
                                         "type": "tool_result", "tool_use_id": tool_use["id"],
                                         "content": "1"}]}]}
        events = _events(_post(f"{stub.url}/v1/messages", later)[2])
        text = [d["delta"]["text"] for n, d in events if n == "content_block_delta"]
        assert text == ["All done."] and events[-2][1]["delta"]["stop_reason"] == "end_turn"
        # A retried request gets the same answer; past the script, a final text.
        assert _events(_post(f"{stub.url}/v1/messages", later)[2])[2][1]["delta"]["text"] \
            == "All done."
        assert [e.turn for e in stub.requests("main")] == [0, 1, 1]


def test_side_requests_do_not_move_the_script() -> None:
    """Requests without the script's tools (titles, quotas) get a short text, not a turn."""
    with ModelStub([[ToolCall("Bash", {"command": "true"})]]) as stub:
        side = {"model": "m", "max_tokens": 1, "system": "Generate a title",
                "messages": [{"role": "user", "content": "quota"}]}
        status, kind, body = _post(f"{stub.url}/v1/messages", side)
        answer = json.loads(body)
        assert status == 200 and kind == "application/json"
        assert answer["content"][0]["type"] == "text" and answer["stop_reason"] == "end_turn"
        events = _events(_post(f"{stub.url}/v1/messages", MAIN)[2])
        assert events[1][1]["content_block"]["type"] == "tool_use"
        assert [e.role for e in stub.requests()] == ["side", "main"]


def test_count_tokens_and_unknown_paths() -> None:
    """count_tokens answers an estimate, /v1/models the one model, other paths a 404 in the
    API's error format; every request is recorded, without the key."""
    with ModelStub([]) as stub:
        status, _, body = _post(f"{stub.url}/v1/messages/count_tokens", MAIN)
        assert status == 200 and json.loads(body)["input_tokens"] > 0
        status, _, body = _post(f"{stub.url}/v1/unknown", {})
        assert status == 404 and json.loads(body)["error"]["type"] == "not_found_error"
        with urllib.request.urlopen(f"{stub.url}/v1/models", timeout=10) as answer:
            assert json.loads(answer.read())["data"][0]["type"] == "model"
        roles = [(e.path, e.role) for e in stub.requests()]
        assert roles == [("/v1/messages/count_tokens", "count"), ("/v1/unknown", "other"),
                         ("/v1/models", "other")]
        assert all("x-api-key" not in e.headers for e in stub.requests())
