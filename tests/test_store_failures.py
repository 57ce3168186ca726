"""LanceDB's failures leave the store as `StoreError`s that say what failed and what to do, and
reach an MCP client as a clear tool error, never as an "internal error". Real failures: the
store's folder removed under a running store and a running server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mcp import Client

from habitus.base.errors import StoreError
from habitus.core.config import Settings
from habitus.core.project.scope import Scope
from habitus.server import Runtime, build_server
from habitus.store import Store

from .test_store import open_store, row

pytestmark = pytest.mark.anyio


async def test_lancedb_errors_become_store_errors_that_say_what_to_do(db_path: Path) -> None:
    store = await open_store(db_path)
    try:
        await store.add_memories([row("a", "the payments service retries webhooks")])
        shutil.rmtree(db_path)
        with pytest.raises(StoreError, match="could not read memories") as read:
            await store.scan(None)
        with pytest.raises(StoreError, match="could not add memories") as written:
            await store.add_memories([row("b")])
        with pytest.raises(StoreError, match="could not search the memories' text"):
            await store.lexical_search("payments", None, 5, columns=["id"])
        with pytest.raises(StoreError, match="could not read links"):
            await store.find_links(store.where.links.eq("source", "a"))
        for error in (read.value, written.value):
            assert str(db_path) in str(error) and "check that the folder exists" in str(error)
            assert error.__cause__ is not None and not isinstance(error.__cause__, StoreError)
    finally:
        await store.close()


async def test_a_closed_store_says_so(db_path: Path) -> None:
    store = await open_store(db_path)
    await store.close()
    with pytest.raises(StoreError, match="the store is closed"):
        store.append_journal([{"id": "j"}])


async def test_an_unreadable_store_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("a file where the store's folder should be")
    with pytest.raises(StoreError, match="could not be opened") as opened:
        await Store.open(str(tmp_path / "store"), dimension=4)
    assert opened.value.__cause__ is not None


async def test_a_client_sees_a_clear_tool_error_when_the_store_goes_away(db_path: Path) -> None:
    runtime = Runtime(
        Settings(db=str(db_path)), Scope(id="repo:example.com/acme/app", kind="repo", root=None)
    )
    try:
        async with Client(build_server(runtime)) as client:
            first = await client.call_tool(
                "remember", {"content": "Deploys run from the release workflow"})
            assert not first.is_error, first.content
            shutil.rmtree(db_path)
            for tool, arguments in (("recall", {"query": "how do we deploy"}),
                                    ("remember", {"content": "Releases are tagged vX.Y.Z"}),
                                    ("forget", {"ids": [first.structured_content["id"]]})):
                failed = await client.call_tool(tool, arguments)
                assert failed.is_error, tool
                text = failed.content[0].text  # type: ignore[union-attr]
                assert "internal error" not in text, text
                assert f"the store at {db_path} could not" in text, text
                assert "check that the folder exists" in text, text
    finally:
        await runtime.close()
