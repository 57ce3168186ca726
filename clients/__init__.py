"""Registering habitus with coding assistants: the library behind `habitus install CLIENT`.

    plan = plan_install("vscode", command=cmd, args=args, scope="project", project_dir=repo)
    if plan.changed:
        apply_install(plan)

Supported clients are in `CLIENTS`; `default_server_command()` gives the absolute command line
that starts the stdio server.
"""

from __future__ import annotations

from habitus.clients.formats import CLIENTS, SCOPES, ClientFormat, Platform, Scope, resolve_client
from habitus.clients.install import (
    InstallPlan,
    Transport,
    apply_install,
    default_server_command,
    plan_install,
)

__all__ = [
    "CLIENTS",
    "SCOPES",
    "ClientFormat",
    "InstallPlan",
    "Platform",
    "Scope",
    "Transport",
    "apply_install",
    "default_server_command",
    "plan_install",
    "resolve_client",
]
