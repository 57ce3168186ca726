"""How light clients reach a running server: the endpoint file (published while the server
lives, ignored when stale or writable by others) and the minimal HTTP POST they send."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from habitus.base import endpoint

pytestmark = pytest.mark.fast


@contextmanager
def answering(reply: bytes, *, linger: bool = False) -> Iterator[tuple[str, list[bytes]]]:
    """A server on 127.0.0.1 that reads one request and writes `reply` (then keeps the
    connection open when `linger`); yields its base URL and the request it received."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += connection.recv(65536)
        received.append(head + b"\r\n\r\n" + body)
        connection.sendall(reply)
        if linger:
            done.wait(10)  # still open: the client must stop at the announced length
        connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    finally:
        done.set()
        thread.join(5)
        listener.close()


def test_post_json_sends_json_and_reads_the_answer_by_its_length() -> None:
    answer = json.dumps({"ok": "été"}).encode()
    reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
             + str(len(answer)).encode() + b"\r\n\r\n" + answer)
    with answering(reply, linger=True) as (url, received):
        status, data = endpoint.post_json(url, "/hooks", {"prompt": "ça va"}, token="t0k",
                                          timeout=5)
    assert (status, data) == (200, {"ok": "été"})
    head, _, body = received[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /hooks HTTP/1.1") and b"Authorization: Bearer t0k" in head
    assert json.loads(body) == {"prompt": "ça va"}


def test_post_json_answers_non_json_as_text_and_fails_when_nobody_listens() -> None:
    with answering(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\n\r\noops") as (url, _):
        assert endpoint.post_json(url, "/x", {}, timeout=5) == (502, "oops")
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(OSError):
        endpoint.post_json(f"http://127.0.0.1:{port}", "/x", {}, timeout=2)


def test_an_endpoint_counts_while_its_process_lives_and_only_if_private(tmp_path: Path) -> None:
    db = str(tmp_path / "store")
    assert endpoint.find(db) is None
    with endpoint.publish(db, "http://127.0.0.1:1", transport="http") as path:
        assert endpoint.find(db)["url"] == "http://127.0.0.1:1"  # type: ignore[index]
        assert endpoint.find(str(tmp_path / "other")) is None
        os.chmod(path, 0o644)  # readable by others: someone else could have written it
        assert endpoint.find(db) is None
        os.chmod(path, 0o600)
    assert endpoint.find(db) is None and not path.exists()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    path.write_text(json.dumps({"url": "http://127.0.0.1:1", "db": db,
                                "pid": int(gone.stdout)}))
    os.chmod(path, 0o600)
    assert endpoint.find(db) is None  # its server died
