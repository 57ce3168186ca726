"""Where a running server for a store can be reached: one small file per store, only the user's.

`habitus serve` over HTTP publishes its base URL here while it runs; light clients (the CLI,
lifecycle hooks) read it to talk to that server instead of opening the store themselves.
Standard library only: a client must start in milliseconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from habitus.base.dirs import private, runtime_dir
from habitus.base.processes import alive

__all__ = ["Endpoint", "endpoint_file", "find", "publish", "post_json"]

Endpoint = dict[str, Any]  # {"url": "http://127.0.0.1:8765", "pid": 1234, "db": "/abs/store"}


def endpoint_file(db: str) -> Path:
    """The file that names the server of the store `db` (an absolute path or a URI)."""
    digest = hashlib.sha256(db.encode("utf-8")).hexdigest()[:16]
    return runtime_dir() / f"endpoint-{digest}.json"


def find(db: str) -> Endpoint | None:
    """The endpoint of a live server for `db`, or None (no file, a dead process, or a file
    that anyone but the user could have written)."""
    path = endpoint_file(db)
    try:
        info = path.stat()
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o077):
            return None
        endpoint = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(endpoint, dict) or endpoint.get("db") != db:
        return None
    if not isinstance(endpoint.get("pid"), int) or not alive(endpoint["pid"]):
        return None
    return endpoint


@contextlib.contextmanager
def publish(db: str, url: str, **extra: Any) -> Iterator[Path]:
    """Name this process as the server of `db` at `url` until the block ends."""
    path = endpoint_file(db)
    private(path.parent)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"url": url, "pid": os.getpid(), "db": db, **extra}, out)
    os.replace(tmp, path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()


def post_json(url: str, path: str, payload: Any, *, token: str | None = None,
              timeout: float = 5.0) -> tuple[int, Any]:
    """POST `payload` as JSON to `path` on the server at `url` (`http://host:port`); its status
    and decoded answer. Raises OSError when no server answers. Plain HTTP/1.1 over a socket:
    `http.client` alone costs more to import than a light client's whole call."""
    host, _, port = url.split("://", 1)[-1].rstrip("/").rpartition(":")
    body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n")
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as connection:
        connection.sendall(head.encode("latin-1") + b"\r\n" + body)
        received = b""
        while b"\r\n\r\n" not in received and (chunk := connection.recv(65536)):
            received += chunk
        header, _, answer = received.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in header.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        # Read the answer's length, not until the server closes: it may go on working.
        while (length is None or len(answer) < length) and (chunk := connection.recv(65536)):
            answer += chunk
    status = header.split(b"\r\n", 1)[0].split(b" ")
    code = int(status[1]) if len(status) > 1 and status[1].isdigit() else 0
    try:
        return code, json.loads(answer or b"null")
    except ValueError:
        return code, answer.decode("utf-8", "replace")
