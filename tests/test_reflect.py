"""Reflection for every client: sampling, a configured model, the assistant, LLM-free rules.

Real LanceDB in a temp directory, the real offline embedder, a real (local, stand-in)
OpenAI-compatible HTTP server and the SDK's in-memory MCP client.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from habitus.base.errors import InvalidInput, ModelUnavailable
from habitus.core.config import Settings
from habitus.core.models import CallContext, ReflectBundle
from habitus.core.reflection.consolidate import merge_text, parse_draft
from habitus.core.reflection.llm import ChatModel
from habitus.core.remember.dedup import MAX_GENERATION
from habitus.core.service import MemoryService

pytestmark = pytest.mark.anyio

DUP_A = "Webhooks retry 5 times with exponential backoff. Retries stop after one hour."
DUP_B = "Webhooks retry 5 times with exponential backoff. The first retry waits 2 seconds."
MERGED = ("Webhooks retry 5 times with exponential backoff. Retries stop after one hour. "
          "The first retry waits 2 seconds.")
EPISODES = [
    "The upload test failed on CI with a timeout in test_upload_large_file",
    "The upload test timed out again on CI; raised the timeout to 30s",
    "Renamed the billing module to payments and updated the imports",
]


async def seed(service: MemoryService, ctx: CallContext) -> dict[str, str]:
    """Two near-duplicate facts (as an import would leave them) and three episodes."""
    ids = {
        "a": (await service.remember(DUP_A, tags=["webhooks"], ctx=ctx)).id,
        "b": (await service.remember(DUP_B, tags=["retries"], importance=0.8, dedup=False,
                                     ctx=ctx)).id,
    }
    for n, text in enumerate(EPISODES):
        ids[f"e{n}"] = (await service.remember(text, kind="episodic", ctx=ctx)).id
    return ids


def by_action(bundle: ReflectBundle, action: str) -> list[Any]:
    return [a for a in bundle.actions if a.action == action]


# --- pure parts ----------------------------------------------------------------------------


@pytest.mark.fast
def test_merge_keeps_every_distinct_sentence_in_order() -> None:
    merged = merge_text([
        "Webhooks retry 5 times. Backoff is exponential",
        "webhooks retry 5 times! The first retry waits 2 seconds.",
        "Backoff is exponential, capped at 1 minute.",
    ])
    assert merged == ("Webhooks retry 5 times. Backoff is exponential, capped at 1 minute. "
                      "The first retry waits 2 seconds.")
    assert merge_text(["Deploys need the VPN.", "Deploys need the VPN!"]) == "Deploys need the VPN."


@pytest.mark.fast
def test_parse_draft_is_lenient_and_drops_uncited_lines() -> None:
    known = {"01aaaaaaaaaaaaaaaaaaaaaaaa": "01aaaaaaaaaaaaaaaaaaaaaaaa",
             "01bbbbbbbbbbbbbbbbbbbbbbbb": "01bbbbbbbbbbbbbbbbbbbbbbbb"}
    draft = """Here is the consolidation:
- Webhooks retry 5 times with backoff [from: 01aaaaaaaaaaaaaaaaaaaaaaaa, 01BBBBBBBBBBBBBBBBBBBBBBBB]
2) procedural: Run `just test` before pushing (ids: 01bbbbbbbbbbbbbbbbbbbbbbbb)
* A claim with no source at all
- Cites an unknown id [from: 01zzzzzzzzzzzzzzzzzzzzzzzz]
"""
    actions = parse_draft(draft, known)
    assert [(a.content, a.sources, a.kind) for a in actions] == [
        ("Webhooks retry 5 times with backoff",
         ["01aaaaaaaaaaaaaaaaaaaaaaaa", "01bbbbbbbbbbbbbbbbbbbbbbbb"], "semantic"),
        ("Run `just test` before pushing", ["01bbbbbbbbbbbbbbbbbbbbbbbb"], "procedural"),
    ]
    as_json = '[{"content": "Uses uv", "ids": ["01aaaaaaaaaaaaaaaaaaaaaaaa"]}, {"content": "x"}]'
    assert [(a.content, a.sources) for a in parse_draft(as_json, known)] == [
        ("Uses uv", ["01aaaaaaaaaaaaaaaaaaaaaaaa"])]


# --- LLM-free consolidation ----------------------------------------------------------------


async def test_rule_based_dry_run_proposes_and_writes_nothing(
    service: MemoryService, ctx: CallContext
) -> None:
    ids = await seed(service, ctx)
    before = await service.stats()
    bundle = await service.reflect(consolidate=True, ctx=ctx)
    assert bundle.mode == "rule-based" and bundle.dry_run is True
    assert (await service.stats()).memories == before.memories  # nothing written
    assert all(a.id is None for a in bundle.actions)

    [merge] = by_action(bundle, "merge")
    assert merge.sources == [ids["a"], ids["b"]]  # oldest first
    assert merge.content == MERGED  # every distinct sentence, none twice
    assert merge.kind == "semantic"
    [group] = by_action(bundle, "group")
    assert group.sources == [ids["e0"], ids["e1"]]  # the unrelated episode stays out
    assert group.kind == "episodic"
    lines = group.content.splitlines()
    assert lines[0].startswith("2 related episodes")
    assert re.match(r"- \d{4}-\d{2}-\d{2}: The upload test failed on CI", lines[1])
    assert "raised the timeout to 30s" in lines[2]
    assert "dry_run=false" in bundle.instructions


async def test_applying_writes_linked_consolidations_and_keeps_sources(
    service: MemoryService, ctx: CallContext
) -> None:
    ids = await seed(service, ctx)
    before = await service.stats()
    bundle = await service.reflect(consolidate=True, dry_run=False, ctx=ctx)
    assert bundle.dry_run is False
    written = [a for a in bundle.actions if a.action != "skip"]
    assert {a.action for a in written} == {"merge", "group"}
    assert (await service.stats()).memories == before.memories + 2
    assert (await service.stats()).deleted == 0
    for action in written:
        memory = await service.get(action.id)
        assert memory.content == action.content
        assert memory.derived_from == action.sources
        assert memory.metadata["habitus"]["generation"] == 1
        edges = {(e.target, e.relation) for e in await service.links_of(action.id)}
        assert {(s, "derived_from") for s in action.sources} <= edges
    merged = await service.get(by_action(bundle, "merge")[0].id)
    assert set(merged.tags) == {"webhooks", "retries"} and merged.importance == pytest.approx(0.8)
    for source in ids.values():  # intact: live, unchanged, still the current version
        memory = await service.get(source)
        assert not memory.deleted
        assert (await service.history(source)).current == source

    again = await service.reflect(consolidate=True, dry_run=False, ctx=ctx)
    assert not [a for a in again.actions if a.action != "skip"]
    assert all("already consolidated" in a.reason for a in again.actions)
    assert (await service.stats()).memories == before.memories + 2

    # The whole consolidation is one undoable operation.
    await service.undo(ctx=ctx)  # the second reflect wrote nothing, so this undoes the first
    assert (await service.stats()).memories == before.memories


async def test_a_merge_that_adds_nothing_is_skipped(
    service: MemoryService, ctx: CallContext
) -> None:
    a = (await service.remember("Deploys need the VPN.", ctx=ctx)).id
    b = (await service.remember("Deploys need the VPN!", dedup=False, ctx=ctx)).id
    bundle = await service.reflect(consolidate=True, dry_run=False, ctx=ctx)
    [action] = bundle.actions
    assert action.action == "skip" and action.sources == [a, b] and action.id is None
    assert "already says all of it" in action.reason
    assert (await service.stats()).memories == 2


async def test_distilling_distilled_memories_is_bounded(
    service: MemoryService, ctx: CallContext
) -> None:
    assert MAX_GENERATION == 2
    chain = []
    for n, (raw, tail) in enumerate([("Tuesday: the deploy failed until I joined the VPN", "."),
                                     ("Friday: deploy hung at the VPN login again", "!")]):
        episode = (await service.remember(raw, kind="episodic", ctx=ctx)).id
        lesson = (await service.remember(f"Lesson {n}: check the VPN first when a deploy fails",
                                         derived_from=[episode], dedup=False, ctx=ctx)).id
        rule = (await service.remember(f"Deploys need the VPN{tail}", derived_from=[lesson],
                                       dedup=False, ctx=ctx)).id
        chain.append((episode, lesson, rule))
    rules = [c[2] for c in chain]
    assert (await service.get(rules[0])).metadata["habitus"]["generation"] == 2
    with pytest.raises(InvalidInput):
        await service.remember("Deploys need the VPN, always", derived_from=rules, ctx=ctx)

    bundle = await service.reflect(consolidate=True, dry_run=False, ctx=ctx)
    [refused] = [a for a in bundle.actions if set(a.sources) == set(rules)]
    assert refused.action == "skip" and refused.id is None
    assert "refused" in refused.reason and "limit is 2" in refused.reason
    assert chain[0][1] in refused.reason or chain[1][1] in refused.reason  # where to go instead
    stored = await service.recent(limit=100, ctx=ctx)
    assert not [m for m in stored if set(m.derived_from) & set(rules)]


# --- a configured model (OpenAI-compatible endpoint) ---------------------------------------


class FakeModel:
    """What the local stand-in server answers and what it was asked."""

    def __init__(self) -> None:
        self.mode = "ok"  # ok | slow | error | garbage | huge
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def answer(self, body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        evidence = json.loads(prompt.split("Evidence (JSON):\n", 1)[1])
        dup = next(g for g in evidence if g["reason"] == "near_duplicates")
        ids = [m["id"] for m in dup["memories"]]
        return (f"- Webhooks retry 5 times with exponential backoff (first retry after 2 s) "
                f"for up to an hour [from: {', '.join(ids)}]\n- An unsupported claim\n")


@contextmanager
def fake_endpoint(fake: FakeModel) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            fake.headers.append(dict(self.headers))
            if self.path != "/v1/chat/completions":
                return self._send(404, b'{"error": "not found"}')
            if fake.mode == "slow":
                time.sleep(1.5)
            if fake.mode == "error":
                return self._send(500, b'{"error": {"message": "model not loaded"}}')
            if fake.mode == "garbage":
                return self._send(200, b"<html>gateway</html>")
            if fake.mode == "huge":
                return self._send(200, b"x" * 3_000_000)
            payload = {"id": "c1", "object": "chat.completion", "model": body["model"],
                       "choices": [{"index": 0, "finish_reason": "stop", "message": {
                           "role": "assistant", "content": fake.answer(body)}}]}
            self._send(200, json.dumps(payload).encode())

        def _send(self, code: int, data: bytes) -> None:
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@asynccontextmanager
async def with_model(db: Path, url: str, timeout: float = 10.0) -> AsyncIterator[MemoryService]:
    settings = Settings(db=str(db), embedder="minilm", llm_url=url, llm_model="tiny-model",
                        llm_api_key="sk-test", llm_timeout=timeout)
    service = await MemoryService.open(settings)
    try:
        yield service
    finally:
        await service.close()


async def test_configured_model_drafts_consolidations(db_path: Path, ctx: CallContext) -> None:
    fake = FakeModel()
    with fake_endpoint(fake) as url:
        async with with_model(db_path, url) as service:
            ids = await seed(service, ctx)
            plain = await service.reflect(ctx=ctx)  # no consolidate: a draft for the assistant
            assert plain.mode == "model" and "first retry after 2 s" in plain.draft
            assert plain.actions == [] and plain.dry_run

            bundle = await service.reflect(consolidate=True, dry_run=False, ctx=ctx)
            assert bundle.mode == "model" and not bundle.warnings
            [action] = bundle.actions  # the uncited line was dropped
            assert action.action == "distil" and action.sources == [ids["a"], ids["b"]]
            assert action.content == ("Webhooks retry 5 times with exponential backoff "
                                      "(first retry after 2 s) for up to an hour")
            memory = await service.get(action.id)
            assert memory.derived_from == [ids["a"], ids["b"]]
            assert not (await service.get(ids["a"])).deleted

    request = fake.requests[0]
    assert request["model"] == "tiny-model" and request["max_tokens"] > 0
    assert request["messages"][0]["role"] == "system"
    assert ids["a"] in request["messages"][1]["content"]
    assert fake.headers[0]["Authorization"] == "Bearer sk-test"


@pytest.mark.parametrize("mode, reason", [
    ("slow", "did not answer within"),
    ("error", "HTTP 500"),
    ("garbage", "did not answer JSON"),
])
async def test_model_failure_falls_back_to_rules_and_says_why(
    db_path: Path, ctx: CallContext, mode: str, reason: str
) -> None:
    fake = FakeModel()
    fake.mode = mode
    with fake_endpoint(fake) as url:
        async with with_model(db_path, url, timeout=0.4) as service:
            await seed(service, ctx)
            started = time.monotonic()
            bundle = await service.reflect(consolidate=True, ctx=ctx)
            assert time.monotonic() - started < 5  # bounded by the timeout
            assert bundle.mode == "rule-based"
            assert by_action(bundle, "merge") and by_action(bundle, "group")
            assert len(bundle.warnings) == 1 and reason in bundle.warnings[0]
            assert "rule-based" in bundle.warnings[0]
            plain = await service.reflect(ctx=ctx)
            assert plain.mode == "assistant" and plain.draft is None
            assert reason in plain.warnings[0]


@pytest.mark.fast
async def test_chat_model_client_bounds_and_errors() -> None:
    fake = FakeModel()
    with fake_endpoint(fake) as url:
        fake.mode = "huge"
        model = ChatModel(url, "m", max_response_bytes=1_000_000)
        with pytest.raises(ModelUnavailable, match="more than 1000000 bytes"):
            await model.complete("hello")
        with pytest.raises(ModelUnavailable, match="HTTP 404"):
            await ChatModel(url + "/nope", "m").complete("hello")
    with pytest.raises(ModelUnavailable, match="cannot reach"):
        await ChatModel(url, "m", timeout=2).complete("hello")  # the server is gone
    with pytest.raises(ModelUnavailable, match="http"):
        ChatModel("file:///etc/passwd")
    assert ChatModel.from_config("", "m") is None
    assert "sk-" not in repr(ChatModel("http://127.0.0.1:1/v1", "m", "sk-secret"))


async def test_bad_model_url_is_reported_not_fatal(db_path: Path, ctx: CallContext) -> None:
    async with with_model(db_path, "ftp://example.invalid/v1") as service:
        await seed(service, ctx)
        bundle = await service.reflect(consolidate=True, ctx=ctx)
        assert bundle.mode == "rule-based" and by_action(bundle, "merge")
        assert "HABITUS_LLM_URL" in bundle.warnings[0]


# --- MCP sampling ---------------------------------------------------------------------------


async def test_sampling_draft_is_parsed_and_applied_over_mcp(db_path: Path) -> None:
    from mcp import Client, types

    from habitus.core.project.scope import Scope
    from habitus.server import Runtime, build_server

    prompts: list[str] = []

    async def sample(
        context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        prompt = params.messages[0].content.text
        prompts.append(prompt)
        evidence = json.loads(prompt.split("Evidence (JSON):\n", 1)[1])
        ids = [m["id"] for g in evidence if g["reason"] == "near_duplicates" for m in g["memories"]]
        text = (f"* Webhooks retry 5 times, exponential backoff, first retry after 2 s "
                f"(ids: {', '.join(ids)})\n* Nothing to cite here\n")
        return types.CreateMessageResult(role="assistant", model="client-model",
                                         content=types.TextContent(type="text", text=text))

    runtime = Runtime(Settings(db=str(db_path)), Scope(id="repo:example.com/acme/app", kind="repo",
                                                       root=None))
    try:
        async with Client(build_server(runtime), sampling_callback=sample, mode="legacy") as client:
            a = (await client.call_tool("remember", {"content": DUP_A})).structured_content["id"]
            service = await runtime.service()
            b = (await service.remember(DUP_B, dedup=False,
                                        ctx=CallContext(project_scope="repo:example.com/acme/app"))).id
            count = (await service.stats()).memories

            preview = await client.call_tool("reflect", {"consolidate": True})
            assert not preview.is_error, preview.content
            result = preview.structured_content
            assert result["mode"] == "sampling" and result["dry_run"] is True
            assert [x["sources"] for x in result["actions"]] == [[a, b]]
            assert (await service.stats()).memories == count

            applied = await client.call_tool("reflect", {"consolidate": True, "dry_run": False})
            [action] = applied.structured_content["actions"]
            assert action["action"] == "distil" and action["id"]
            assert action["content"] == ("Webhooks retry 5 times, exponential backoff, "
                                         "first retry after 2 s")
            memory = await service.get(action["id"])
            assert memory.derived_from == [a, b] and not (await service.get(a)).deleted
            assert (await service.stats()).memories == count + 1
            assert prompts and DUP_A in prompts[0]
    finally:
        await runtime.close()
