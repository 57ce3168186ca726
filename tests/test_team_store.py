"""A team's store on object storage: real habitus servers on one `s3://` store served by moto's
S3 stand-in on a loopback port (skipped, saying why, when moto is not installed).

- Two servers write and recall at once: every memory either acknowledged is stored exactly once,
  and each server sees a memory the other just wrote within `VISIBLE_WITHIN` seconds.
- Two "machines" (two homes, each with its own git user) with clones of one repository (its
  remote spelled two ways) share that project's memories through the store, each memory saying
  whose server wrote it.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from .object_store import StandIn, moto_missing, s3_stand_in
from .servers import habitus_command, server_env

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(moto_missing() is not None, reason=moto_missing() or ""),
    # Each takes 5-10 s on two cores; a stand-in or a server that stops answering (LanceDB
    # retries for minutes) fails the test here instead of holding the suite.
    pytest.mark.timeout(120),
]

# A server sees what another wrote within this many seconds: its tables are refreshed in the
# background every half second (store/upkeep.py), the rest is the time of one refresh.
VISIBLE_WITHIN = 5.0
PER_SERVER = 15


@pytest.fixture(scope="module")
def s3() -> Iterator[StandIn]:
    with s3_stand_in() as stand_in:
        yield stand_in


def server(uri: str, s3: StandIn, *, cwd: Path | None = None, **env: str) -> Client:
    command = habitus_command()
    return Client(StdioServerParameters(
        command=command[0], args=[*command[1:], "--db", uri, "serve"],
        env=server_env(**s3.env(), **env), cwd=cwd))


async def call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    return result.structured_content


async def seen_within(client: Client, memory_id: str, query: str, **args: Any) -> float:
    """Seconds until `client`'s recall of `query` returns `memory_id` (fails past the bound)."""
    started = time.monotonic()
    while time.monotonic() - started < VISIBLE_WITHIN:
        found = await call(client, "recall", query=query, limit=5, **args)
        if memory_id in [m["id"] for m in found["memories"]]:
            return time.monotonic() - started
        await anyio.sleep(0.1)
    raise AssertionError(f"{memory_id} not seen within {VISIBLE_WITHIN} s")


async def stored(uri: str, s3: StandIn) -> list[dict[str, Any]]:
    """Every memory in the store, read by this process on its own."""
    from habitus.core.storage_options import effective_storage_options
    from habitus.store import Store

    store = await Store.open(uri, storage_options=effective_storage_options(uri, s3.options))
    try:
        return await store.scan(None, columns=["id", "content", "scope", "metadata"])
    finally:
        await store.close()


async def test_two_servers_on_one_object_store_lose_nothing_and_see_each_other(
    s3: StandIn, tmp_path: Path
) -> None:
    uri = s3.uri(f"pair-{tmp_path.name}")
    assert await stored(uri, s3) == []  # made once before the servers start, as the README says
    acknowledged: dict[str, str] = {}
    async with server(uri, s3, HABITUS_AUTHOR="Ada <ada@example.com>") as ada, \
            server(uri, s3, HABITUS_AUTHOR="Grace <grace@example.com>") as grace:

        async def burst(name: str, client: Client) -> None:
            async def one(i: int) -> None:
                content = f"{name} fact {i}: module_{name}_{i} reads path/{name}/{i}.toml"
                result = await call(client, "remember", content=content, scope="global")
                acknowledged[result["id"]] = content
                await call(client, "recall", query=f"module {name} {i} settings", limit=3,
                           scope="global")

            async with anyio.create_task_group() as tasks:
                for i in range(PER_SERVER):
                    tasks.start_soon(one, i)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(burst, "ada", ada)
            tasks.start_soon(burst, "grace", grace)
        assert len(acknowledged) == 2 * PER_SERVER

        # Each sees what the other has just written, within the bound, with its author.
        for writer, reader, author in ((ada, grace, "Ada"), (grace, ada, "Grace")):
            canary = await call(writer, "remember", scope="global",
                                content=f"canary from {author}: the build cache lives in vault_7")
            await seen_within(reader, canary["id"], f"{author} build cache vault_7",
                              scope="global")
            found = await call(reader, "recall", query=f"{author} build cache vault_7",
                               scope="global", limit=1)
            assert found["memories"][0]["author"].startswith(author)

    rows = await stored(uri, s3)
    ids = [r["id"] for r in rows]
    contents = [r["content"] for r in rows]
    assert set(acknowledged) <= set(ids), "an acknowledged memory is missing"
    assert len(ids) == len(set(ids)) and len(contents) == len(set(contents)), "a duplicate"
    assert len(rows) == 2 * PER_SERVER + 2


def machine(root: Path, name: str, email: str, remote: str) -> tuple[Path, dict[str, str]]:
    """A home with its own git user, and a clone of the team's repository in it (its remote
    given as `remote`); returns the clone and the environment of a process there."""
    home = root / "home"
    (home / "run").mkdir(parents=True, mode=0o700)
    (home / ".gitconfig").write_text(f"[user]\n\tname = {name}\n\temail = {email}\n")
    clone = home / "work" / "app"
    clone.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "remote", "add", "origin", remote], check=True)
    env = {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
           "XDG_STATE_HOME": str(home / ".local" / "state"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local"),
           "XDG_RUNTIME_DIR": str(home / "run")}
    return clone, env


async def test_two_machines_share_a_projects_memories_through_the_store(
    s3: StandIn, tmp_path: Path
) -> None:
    uri = s3.uri(f"machines-{tmp_path.name}")
    assert await stored(uri, s3) == []
    first, first_env = machine(tmp_path / "laptop", "Ada Lovelace", "ada@example.com",
                               "https://example.com/acme/app.git")
    second, second_env = machine(tmp_path / "desktop", "Grace Hopper", "grace@example.com",
                                 "git@example.com:acme/app.git")
    async with server(uri, s3, cwd=first, **first_env) as ada, \
            server(uri, s3, cwd=second, **second_env) as grace:
        written = await call(ada, "remember",
                             content="Releases are cut from the release/* branches by CI")
        assert written["scope"] == "repo:example.com/acme/app"
        await seen_within(grace, written["id"], "how are releases cut")
        found = await call(grace, "recall", query="how are releases cut", limit=1)
        hit = found["memories"][0]
        assert hit["scope"] == "repo:example.com/acme/app"
        assert hit["author"] == "Ada Lovelace <ada@example.com>"
        answer = await call(grace, "remember",
                            content="Release notes are drafted from the merged PR titles")
        await seen_within(ada, answer["id"], "release notes drafted")
    authors = {json.loads(r["metadata"])["habitus"]["author"]
               for r in await stored(uri, s3)}
    assert authors == {"Ada Lovelace <ada@example.com>", "Grace Hopper <grace@example.com>"}


def doctor(uri: str, *options: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from habitus.cli import cli

    args = [a for o in options for a in ("--storage-option", o)]
    result = CliRunner().invoke(cli, ["--db", uri, *args, "doctor"])
    return result.exit_code, result.output


def test_doctor_tries_the_store_and_says_what_is_missing(s3: StandIn) -> None:
    given = [f"{k}={v}" for k, v in s3.options.items()]
    code, said = doctor(s3.uri("doctor"), *given)
    assert code == 0, said
    assert "ok   endpoint: the endpoint http://127.0.0.1" in said  # allow_http set for it
    assert "ok   write: a table was written and removed" in said
    code, said = doctor("s3://no-such-bucket/store", *given)
    assert code == 1
    assert "FAIL reach: the bucket no-such-bucket does not exist at http://127.0.0.1" in said
    port = s3.endpoint.rsplit(":", 1)[1]
    dead = [o.replace(port, "9") if o.startswith("aws_endpoint=") else o for o in given]
    code, said = doctor(s3.uri("doctor"), *dead)
    assert code == 1 and "FAIL reach: cannot reach http://127.0.0.1:9" in said
