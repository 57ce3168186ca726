"""Logging to standard error only: in stdio mode standard output belongs to the protocol."""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["configure_logging"]


def configure_logging(level: str | None = None) -> None:
    """Send habitus's (and every library's) logs to stderr; `HABITUS_LOG_LEVEL` sets the level."""
    level = (level or os.environ.get("HABITUS_LOG_LEVEL") or "WARNING").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("habitus").setLevel(level)
    # Lance's native logger writes to stderr; keep its routine warnings out of the way.
    os.environ.setdefault("LANCE_LOG", "error")
