"""The user's directories for habitus, chosen in one place (platformdirs: XDG on Linux, the
platform's own folders elsewhere), each overridable where a person or a test needs it.

- data: the default store (`HABITUS_DB` chooses another);
- config: the access token, folder plugins (`HABITUS_PLUGINS_DIR` chooses another folder);
- cache: files habitus can make again, such as the token encoding (`HABITUS_CACHE_DIR`);
- state: what hooks and the background server keep between runs (spool, contexts, logs);
- runtime: where a running server says how to reach it (`XDG_RUNTIME_DIR`, else a private
  folder under the system's temporary directory).

Private folders are created readable by the user alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["data_dir", "config_dir", "plugins_dir", "cache_dir", "state_dir", "runtime_dir",
           "private"]

APP = "habitus"


def private(path: Path) -> Path:
    """`path`, created if missing, readable by the user alone."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def plugins_dir() -> Path:
    """The user's folder plugins: `HABITUS_PLUGINS_DIR`, else `plugins` in the config folder."""
    given = os.environ.get("HABITUS_PLUGINS_DIR")
    return Path(given).expanduser() if given else config_dir() / "plugins"


def cache_dir() -> Path:
    given = os.environ.get("HABITUS_CACHE_DIR")
    return Path(given) if given else Path(platformdirs.user_cache_dir(APP, appauthor=False))


def state_dir() -> Path:
    """The state folder, created private on first use."""
    return private(Path(platformdirs.user_state_dir(APP, appauthor=False)))


def runtime_dir() -> Path:
    """The folder where running servers publish their address (not created here)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        return Path(base) / APP
    import tempfile  # only here: it costs more to import than a hook's whole answer

    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"{APP}-{uid}"
