"""The `habitus` command. The click group lives in `app`; `habitus hook`, which an assistant
runs on every lifecycle event, starts without it (see `habitus.lifecycle.entry`)."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["main", "cli"]


def main() -> None:
    """Entry point of the `habitus` command."""
    args = sys.argv[1:]
    if args[:1] == ["hook"] and not {"-h", "--help"} & set(args):
        from habitus.lifecycle.entry import main as hook

        sys.exit(hook(args[1:]))
    from .app import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "cli":  # the click group, loaded on first use
        from .app import cli

        return cli
    raise AttributeError(name)
