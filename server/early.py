"""Answering a stdio client's first requests from a manifest, exactly as the full server will.

Only requests whose answer cannot depend on anything but the protocol version are answered:
`initialize` (handshake era), `server/discover` (2026-07-28 era), `ping` and the listings, each
only when it has the plain shape real clients send; anything else, or anything unusual, is
left to the full server, which then answers it itself. The first request decides the era,
as in the SDK: once a request of that kind has been answered here, a copy of it (under a
private id, its answer dropped) goes to the full server ahead of everything that follows, so
the full server is in the same state as the client believes it to be. After a request whose
effect cannot be foreseen here (a second `initialize`, an unknown first request), nothing more
is answered early.

Standard library only: this runs before the MCP SDK is imported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from .manifest import Manifest

__all__ = ["EarlyAnswers", "Reply", "is_request"]

PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
_IMPLEMENTATION_TEXT = ("name", "version", "title", "description", "websiteUrl")
# Capabilities whose settings are flags and nested settings objects; under these two, free-form.
_CAPABILITIES = ("sampling", "elicitation", "roots", "tasks")
_FREE_FORM = ("experimental", "extensions")


@dataclass(frozen=True)
class Reply:
    """The response line to write, and the copy of the request (under a private id) that the
    full server must see first."""

    line: str
    replay: str | None = None
    replay_id: str = ""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _plain_request(line: str) -> dict[str, Any] | None:
    """The message on `line` when it is a request (an object with an id and a method)."""
    try:
        message = json.loads(line, parse_constant=_refuse_constant)
    except ValueError:
        return None
    if not (isinstance(message, dict) and "id" in message and "method" in message):
        return None
    return message


def _well_formed(message: dict[str, Any]) -> bool:
    return (message.get("jsonrpc") == "2.0" and set(message) <= {"jsonrpc", "id", "method",
                                                                 "params"}
            and type(message["id"]) in (int, str) and isinstance(message["method"], str))


def _settings(value: Any) -> bool:
    """A capability's settings: objects nested in objects, with `listChanged` flags."""
    if not isinstance(value, dict):
        return False
    return all(isinstance(v, bool) if k == "listChanged" else _settings(v)
               for k, v in value.items())


def _capabilities(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    for name, settings in value.items():
        if name in _FREE_FORM:
            if not (isinstance(settings, dict) and all(isinstance(v, dict)
                                                       for v in settings.values())):
                return False
        elif name not in _CAPABILITIES or not _settings(settings):
            return False
    return True


def _implementation(value: Any) -> bool:
    return (isinstance(value, dict) and set(value) <= set(_IMPLEMENTATION_TEXT)
            and all(isinstance(value.get(k), str) for k in ("name", "version"))
            and all(isinstance(v, str) for v in value.values()))


def _hello(params: Any) -> str | None:
    """The protocol version a plain `initialize` asks for, else None."""
    if not (isinstance(params, dict)
            and set(params) == {"protocolVersion", "capabilities", "clientInfo"}):
        return None
    version = params["protocolVersion"]
    if isinstance(version, str) and _capabilities(params["capabilities"]) \
            and _implementation(params["clientInfo"]):
        return version
    return None


def _envelope(params: Any) -> str | None:
    """The protocol version of a plain 2026-07-28 request envelope, else None."""
    if not (isinstance(params, dict) and set(params) == {"_meta"}):
        return None
    meta = params["_meta"]
    if not (isinstance(meta, dict) and {PROTOCOL_VERSION, CLIENT_CAPABILITIES} <= set(meta)
            <= {PROTOCOL_VERSION, CLIENT_CAPABILITIES, CLIENT_INFO}):
        return None
    version = meta[PROTOCOL_VERSION]
    if isinstance(version, str) and _capabilities(meta[CLIENT_CAPABILITIES]) \
            and (CLIENT_INFO not in meta or _implementation(meta[CLIENT_INFO])):
        return version
    return None


def _has_envelope(params: Any) -> bool:
    """Whether a request claims the 2026-07-28 era (the SDK's test: the version key in _meta)."""
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and PROTOCOL_VERSION in meta


def _no_arguments(message: dict[str, Any]) -> bool:
    """A handshake-era request with no parameters (a progress token at most)."""
    if "params" not in message:
        return True
    params = message["params"]
    if not (isinstance(params, dict) and set(params) <= {"_meta"}):
        return False
    meta = params.get("_meta", {})
    return isinstance(meta, dict) and set(meta) <= {"progressToken"} and all(
        type(v) in (int, str) for v in meta.values())


def is_request(line: str) -> bool:
    """Whether `line` holds a request (a message that wants an answer)."""
    return _plain_request(line) is not None


class EarlyAnswers:
    """Decides, message by message, what can be answered from `manifest` (None: nothing), and
    follows which protocol era the client chose."""

    def __init__(self, manifest: Manifest | None) -> None:
        self.manifest = manifest
        self.active = manifest is not None
        self.era: str | None = None  # "handshake" or "modern", decided by the first request
        self.version: str | None = None  # the version negotiated by an early `initialize`
        self.answered: dict[tuple[str, str], str] = {}  # (version, method) → result text sent
        self._prefix = f"habitus-early-{os.getpid()}-{os.urandom(4).hex()}-"

    def reply(self, line: str) -> Reply | None:
        """The answer to `line`, or None when the full server must answer it."""
        if not self.active and self.era is not None:
            return None
        message = _plain_request(line)
        if message is None:
            return None  # notifications, responses, unreadable lines: the full server's
        method, params = message.get("method"), message.get("params")
        first = self.era is None
        if not _well_formed(message):
            if first or method == "initialize":
                self.active = False  # the full server decides what this does to the session
            return None
        if first:
            modern = method != "initialize" and _has_envelope(params)
            self.era = "modern" if modern else "handshake"
        result = self._result(message) if self.active else None
        if result is None:
            if first or method == "initialize":
                self.active = False
            return None
        version, text = result
        self.answered[(version, method)] = text
        head = '{"jsonrpc":"2.0","id":' + json.dumps(message["id"], ensure_ascii=False)
        line = f'{head},"result":{text}}}\n'
        if not first:
            return Reply(line)
        private = f"{self._prefix}{message['id']}"  # no client uses this id
        return Reply(line, json.dumps({**message, "id": private}, ensure_ascii=False) + "\n",
                     private)

    def mismatches(self, actual: Manifest) -> list[tuple[str, str]]:
        """The early answers that differ from what the full server answers (`actual`)."""
        return [(version, method) for (version, method), text in self.answered.items()
                if actual.answers.get(version, {}).get(method) != text]

    def _result(self, message: dict[str, Any]) -> tuple[str, str] | None:
        """(version, result text) for a request the manifest answers, else None."""
        assert self.manifest is not None
        answers = self.manifest.answers
        method, params = message["method"], message.get("params")
        if self.era == "handshake":
            if method == "initialize":
                asked = _hello(params) if self.version is None else None
                if asked is None:
                    return None
                version = asked if asked in self.manifest.handshake_versions \
                    else self.manifest.latest_handshake
                text = answers.get(version, {}).get(method)
                if text is not None:
                    self.version = version
                    return version, text
                return None
            if self.version is None or not _no_arguments(message):
                return None
            text = answers.get(self.version, {}).get(method)
            return None if text is None else (self.version, text)
        version = _envelope(params)
        if method == "initialize" or version not in self.manifest.modern_versions:
            return None
        text = answers.get(version, {}).get(method)
        return None if text is None else (version, text)
