"""The user's access token: what a request from beyond this machine must carry to reach the
HTTP server (`Authorization: Bearer TOKEN`).

Random, created on first use in the user's configuration directory, readable only by the user;
`HABITUS_TOKEN` overrides it. Standard library only.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["token_file", "access_token"]


def token_file() -> Path:
    """Where the token is kept (the user's configuration directory)."""
    from habitus.base.dirs import config_dir

    return config_dir() / "token"


def access_token() -> str:
    """The token, created (mode 0600) on first use; `HABITUS_TOKEN` when set."""
    given = os.environ.get("HABITUS_TOKEN", "").strip()
    if given:
        return given
    path = token_file()
    try:
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token
