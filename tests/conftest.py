"""Shared fixtures: a real store in a temp directory and the real offline embedder."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from habitus.core.config import Settings
from habitus.core.models import CallContext

os.environ.setdefault("LANCE_LOG", "error")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep tests away from the user's cache and scope override."""
    monkeypatch.setenv("HABITUS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("HABITUS_SCOPE", raising=False)
    for name in ("HABITUS_LLM_URL", "HABITUS_LLM_MODEL", "HABITUS_LLM_API_KEY",
                 "HABITUS_REDACT_SECRETS"):
        monkeypatch.delenv(name, raising=False)  # no user model or redaction setting
    # No git user of the machine: a memory's author is only what a test gives.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path_factory.getbasetemp() / "gitconfig"))
    for name in ("HABITUS_STORAGE_OPTIONS", "HABITUS_AUTHOR"):
        # Not the user's; and set by a command given --storage-option or --author (for the
        # processes it starts): restored after each test either way.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    # No user plugins from the real configuration folder (spawned servers inherit this too).
    monkeypatch.setenv("HABITUS_PLUGINS_DIR", str(tmp_path_factory.getbasetemp() / "plugins"))
    # Hook spools, cached contexts and published server addresses stay in the test's folders;
    # hooks start no background server unless a test asks for one.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.getbasetemp() / "state"))
    runtime = tmp_path_factory.getbasetemp() / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("HABITUS_HOOKS_DAEMON", "0")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def ctx() -> CallContext:
    return CallContext(project_scope="repo:example.com/acme/app", client="pytest")


@pytest.fixture
async def service(db_path: Path) -> AsyncIterator[object]:
    from habitus.core.service import MemoryService

    svc = await MemoryService.open(Settings(db=str(db_path), embedder="minilm"))
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture(autouse=True)
def _fast_tests_open_no_store(request: pytest.FixtureRequest,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast tier (`-m fast`, `just test-fast`) stays fast: a test marked `fast` that opens
    a store or starts habitus in another process fails, naming what it did."""
    if request.node.get_closest_marker("fast") is None:
        return
    import subprocess

    from habitus.store import Store

    def no_store(*args: object, **kwargs: object) -> None:
        raise AssertionError("a fast test opened a store: mark it otherwise")

    started = subprocess.Popen.__init__

    def no_habitus(self: subprocess.Popen[bytes], args: object, *rest: object,
                   **kwargs: object) -> None:
        if "habitus" in str(args):
            raise AssertionError(f"a fast test started habitus ({args!r}): mark it otherwise")
        started(self, args, *rest, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "open", no_store)
    monkeypatch.setattr(subprocess.Popen, "__init__", no_habitus)
