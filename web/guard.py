"""Who may see the pages: this machine's user, holding the access token.

`habitus ui` opens `/?token=TOKEN` once; the page then sets a session cookie (HttpOnly,
SameSite=Strict, derived from the token, so the token itself is never stored in the browser).
Every request must name this machine (or a host allowed with `--allow-host`) as its Host;
every change is a POST carrying the page's CSRF token from a page of the same origin. A memory
is data: templates escape everything.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.requests import Request

__all__ = ["Guard", "COOKIE"]

COOKIE = "habitus_session"
_LOCAL = ("127.0.0.1", "localhost", "[::1]", "::1")


def _host_name(header: str) -> str:
    return header.split("]")[0] + "]" if header.startswith("[") else header.rsplit(":", 1)[0]


class Guard:
    """Checks requests against the user's access token and the names this server answers to."""

    def __init__(self, token: str, hosts: Sequence[str] = ()) -> None:
        self._session = self._derive(token, "session")
        self.csrf = self._derive(token, "csrf")
        self._token = token
        self.hosts = {*_LOCAL, *hosts}

    @staticmethod
    def _derive(token: str, purpose: str) -> str:
        return hmac.new(token.encode(), f"habitus-web-{purpose}".encode(),
                        hashlib.sha256).hexdigest()

    @property
    def session(self) -> str:
        """The cookie value a signed-in browser carries."""
        return self._session

    def host_ok(self, request: Request) -> bool:
        return _host_name(request.headers.get("host") or "") in self.hosts

    def token_ok(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self._token.encode())

    def signed_in(self, request: Request) -> bool:
        given = request.cookies.get(COOKIE, "")
        return bool(given) and hmac.compare_digest(given.encode(), self._session.encode())

    def same_origin(self, request: Request) -> bool:
        """A POST from one of our pages: its Origin (or Referer) names this host, or is absent
        (browsers send one on every cross-site POST)."""
        origin = request.headers.get("origin") or request.headers.get("referer") or ""
        if not origin:
            return True
        return urlsplit(origin).netloc == (request.headers.get("host") or "")

    def csrf_ok(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.csrf.encode())
