"""The messages of one stdio client across the hand-over from the early answers to the full
server.

Until the full server serves, each message from the client is either answered at once from the
manifest (see `early`) or kept; when the full server takes over, the kept messages reach it
first, in the order they came, and every later message follows them. One lock orders the
client's messages and the hand-over, so nothing overtakes anything across it; another keeps
each message written to stdout whole, whichever thread writes it.

Standard library only: this runs before the MCP SDK is imported.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from .early import EarlyAnswers, is_request
from .manifest import Manifest

__all__ = ["Deliver", "Handover"]

log = logging.getLogger("habitus.server")

Deliver = Callable[[str | None], None]  # hands a line (None: end of input) to the full server


class Handover:
    """The messages of one stdio client: answered early, or kept, then passed on in order."""

    def __init__(self, key: dict[str, Any] | None, manifest: Manifest | None,
                 wire_out: int) -> None:
        self.key = key  # the manifest key of this installation (None: unknown)
        self.early = EarlyAnswers(manifest)
        self._out = wire_out
        self._lock = threading.Lock()  # the order of messages and the hand-over
        self._write_lock = threading.Lock()  # whole messages on stdout
        self._kept: list[str | None] = []
        self._deliver: Deliver | None = None
        self._stopping = False
        self._needs_server = False  # a request was kept for the full server
        self._dropped: set[str] = set()  # private ids whose answers the client must not see
        self._broken = False

    def take(self, line: str) -> None:
        """Answer one line from the client now, or keep it for the full server."""
        with self._lock:
            reply = self.early.reply(line) if self._deliver is None else None
            if reply is None:
                if self._deliver is None and is_request(line):
                    self._needs_server = True
                self._pass_on(line)
                return
            if reply.replay is not None:
                self._dropped.add(reply.replay_id)
                self._pass_on(reply.replay)
            self.write(reply.line)

    def end_of_input(self) -> bool:
        """The client closed stdin; whether the full server still has something to answer."""
        with self._lock:
            self._pass_on(None)
            return self._deliver is not None or self._needs_server

    @property
    def stopping(self) -> bool:
        """Whether a signal asked the process to stop."""
        return self._stopping

    def stop(self) -> bool:
        """Stop taking messages (a signal); whether the full server is running and must stop."""
        with self._lock:
            self._stopping = True
            if self._deliver is not None:
                self._deliver(None)
                return True
            return False

    def _pass_on(self, item: str | None) -> None:
        if self._deliver is not None:
            self._deliver(item)
        else:
            self._kept.append(item)

    def write(self, text: str) -> None:
        """Write one whole message to the client (from any thread)."""
        data = memoryview(text.encode("utf-8"))
        with self._write_lock:
            if self._broken:
                return
            try:
                while data:
                    data = data[os.write(self._out, data):]
            except OSError as exc:  # the client is gone; its end of input follows
                self._broken = True
                log.debug("stdout closed: %s", exc)

    # --- the full server's side -------------------------------------------------------

    def attach(self, deliver_now: Deliver, deliver: Deliver) -> bool:
        """Hand the stream over to the full server: the kept messages through `deliver_now`
        (called here, in the server's thread), every later one through `deliver`. False when
        the process is stopping."""
        with self._lock:
            if self._stopping:
                return False
            for item in self._kept:
                deliver_now(item)
            self._kept.clear()
            self._deliver = deliver
            return True

    def from_server(self, text: str) -> None:
        """A message the full server writes: to the client, unless it answers a private copy."""
        if self._dropped:
            try:
                message = json.loads(text)
            except ValueError:
                message = None
            ident = message.get("id") if isinstance(message, dict) else None
            if isinstance(ident, str) and ident in self._dropped:
                self._dropped.discard(ident)
                if "error" in message:
                    log.warning("the full server refused a request answered early: %s",
                                message["error"])
                return
        self.write(text)

    def correct(self, actual: Manifest) -> list[tuple[str, str]]:
        """Compare the early answers with the full server's (`actual`); when the tool list
        given differs, tell the client to fetch it again. Returns what differed."""
        with self._lock:
            wrong = self.early.mismatches(actual)
            if any(method == "tools/list" for _, method in wrong):
                self.tools_changed()
            return wrong

    def tools_changed(self) -> None:
        """Tell a handshake-era client that the tool list changed (the 2026-07-28 era has no
        such unsolicited message)."""
        if self.early.era == "handshake":
            self.write('{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n')
