"""Token counting: known o200k_base counts, truncation, and offline materialisation of the file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from habitus.base.errors import InvalidInput
from habitus.core.text import tokens
from habitus.core.text.tokens import count_many, count_tokens, truncate_to_tokens

TOKEN_FILE = hashlib.sha1(
    b"https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
).hexdigest()
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _offline_env(**extra: str) -> dict[str, str]:
    """The current environment with any download sent to a dead proxy, so it fails fast."""
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9", **extra)
    return env


@pytest.fixture(autouse=True, scope="module")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Load the encoding afresh from a temporary cache, never the user's real one."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HABITUS_CACHE_DIR", str(tmp_path_factory.mktemp("habitus-cache")))
        mp.delenv("TIKTOKEN_CACHE_DIR", raising=False)
        mp.setattr(tokens, "_encoding", None)
        yield


PROBE = (
    "import os; from habitus.core.text.tokens import count_tokens; "
    "print(count_tokens('hello world'), os.environ.get('TIKTOKEN_CACHE_DIR'))"
)


@pytest.mark.fast
def test_known_counts() -> None:
    assert count_tokens("hello world") == 2
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("") == 0


@pytest.mark.fast
def test_special_tokens_are_plain_text() -> None:
    assert count_tokens("<|endoftext|>") > 1


@pytest.mark.fast
def test_count_many_matches_count_tokens_in_order() -> None:
    texts = [
        "hello world",
        "",
        "Hello, world!",
        "def f(x):\n    return x * 2\n",
        "日本語のテキスト",
    ]
    assert count_many(texts) == [count_tokens(t) for t in texts]
    assert count_many([]) == []


@pytest.mark.fast
def test_truncate_to_tokens() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20
    cut = truncate_to_tokens(text, 10)
    assert count_tokens(cut) <= 10
    assert text.startswith(cut) and len(cut) > 20
    assert truncate_to_tokens(text, 10_000) == text
    assert truncate_to_tokens(text, 0) == ""
    with pytest.raises(InvalidInput):
        truncate_to_tokens(text, -1)


@pytest.mark.fast
def test_truncate_never_splits_a_character() -> None:
    text = "🎉日本語é " * 50
    for n in range(1, 40):
        cut = truncate_to_tokens(text, n)
        assert text.startswith(cut), n
        assert "\ufffd" not in cut
        assert count_tokens(cut) <= n


@pytest.mark.fast
def test_materialise_writes_the_file_tiktoken_expects(tmp_path: Path) -> None:
    cache = tmp_path / "nested" / "tiktoken"
    assert tokens._materialise(cache) == cache
    target = cache / TOKEN_FILE
    assert _sha256(target) == O200K_SHA256
    assert [p.name for p in cache.iterdir()] == [TOKEN_FILE]  # no temporary left behind
    mtime = target.stat().st_mtime_ns
    tokens._materialise(cache)
    assert target.stat().st_mtime_ns == mtime  # a valid file is not rewritten


@pytest.mark.fast
def test_materialise_replaces_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / TOKEN_FILE).write_bytes(b"garbage")
    tokens._materialise(tmp_path)
    assert _sha256(tmp_path / TOKEN_FILE) == O200K_SHA256


@pytest.mark.fast
def test_materialise_races_safely(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            tokens._materialise(tmp_path)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == [TOKEN_FILE]
    assert _sha256(tmp_path / TOKEN_FILE) == O200K_SHA256


@pytest.mark.fast
def test_cache_dir_honours_habitus_cache_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HABITUS_CACHE_DIR", str(tmp_path))
    assert tokens._cache_dir() == tmp_path / "tiktoken"


def test_offline_first_use_in_a_fresh_process(tmp_path: Path) -> None:
    empty = tmp_path / "empty-tiktoken-cache"
    empty.mkdir()
    habitus_cache = tmp_path / "habitus-cache"
    env = _offline_env(TIKTOKEN_CACHE_DIR=str(empty), HABITUS_CACHE_DIR=str(habitus_cache))
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # The count is right, the user's variable is restored, and their empty folder untouched.
    assert result.stdout == f"2 {empty}\n"
    assert list(empty.iterdir()) == []
    assert _sha256(habitus_cache / "tiktoken" / TOKEN_FILE) == O200K_SHA256


def test_a_valid_user_tiktoken_cache_is_used_as_is(tmp_path: Path) -> None:
    user_cache = tmp_path / "user-tiktoken-cache"
    tokens._materialise(user_cache)
    habitus_cache = tmp_path / "habitus-cache"
    env = _offline_env(TIKTOKEN_CACHE_DIR=str(user_cache), HABITUS_CACHE_DIR=str(habitus_cache))
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"2 {user_cache}\n"
    assert not habitus_cache.exists()


def test_preloading_in_the_background_serves_the_first_count_and_keeps_its_errors(
    tmp_path: Path,
) -> None:
    """`preload` loads in a thread; a count racing it waits for the same encoding, and a
    load that fails is reported by the count, not lost in the thread."""
    probe = (
        "from habitus.core.text import tokens\n"
        "tokens.preload(); tokens.preload()\n"
        "print(tokens.count_tokens('hello world'), tokens.count_many(['a b', 'c'] * 2))\n"
    )
    env = _offline_env(HABITUS_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("TIKTOKEN_CACHE_DIR", None)
    ok = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "2 [2, 1, 2, 1]\n"
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    env["HABITUS_CACHE_DIR"] = str(blocked)
    failed = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                            text=True, timeout=60)
    assert failed.returncode != 0
    assert "HABITUS_CACHE_DIR to a writable folder" in failed.stderr
    assert "Exception in thread" not in failed.stderr
