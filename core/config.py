"""Settings: where the store lives, how to reach it, who writes, which embedder and which
optional language model to use, from arguments or environment.

Only entry points (CLI, server start-up) read the environment; the core receives `Settings`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from habitus.base import dirs
from habitus.core.storage_options import (
    STORAGE_OPTIONS_ENV,
    default_storage_options,
    effective_storage_options,
)

__all__ = ["Settings", "default_db_path", "default_author", "registration_env", "MAX_AUTHOR"]

# An author longer than this is cut: it is a name and an address, stored with every memory.
MAX_AUTHOR = 200


def default_db_path() -> str:
    """`HABITUS_DB`, else a `store` folder in the user's data directory."""
    env = os.environ.get("HABITUS_DB")
    if env:
        return env
    return str(dirs.data_dir() / "store")


# The environment variables through which each kind of store takes credentials, endpoint and
# region (LanceDB reads them itself), by URI scheme.
_PROVIDER_ENV = {"s3": ("AWS_",), "s3+ddb": ("AWS_",), "gs": ("GOOGLE_",),
                 "az": ("AZURE_",), "abfs": ("AZURE_",), "db": ("LANCEDB_",)}


def registration_env(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What a server started by an assistant needs in its environment to reach the store as
    this shell does: stdio hosts start servers with a bare environment, so the storage
    options, the object store's own variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`,
    `LANCEDB_*`, by the store's scheme) and a chosen author are written into the
    registration."""
    environ = os.environ if environ is None else environ
    env: dict[str, str] = {}
    if not settings.is_local:
        scheme = settings.db.split("://", 1)[0].lower()
        prefixes = _PROVIDER_ENV.get(scheme, ())
        env.update({k: v for k, v in sorted(environ.items()) if k.startswith(prefixes)})
    if settings.storage_options:
        env[STORAGE_OPTIONS_ENV] = json.dumps(settings.storage_options, sort_keys=True)
    if environ.get("HABITUS_AUTHOR", "").strip():
        env["HABITUS_AUTHOR"] = settings.author
    return env


def default_author() -> str:
    """`HABITUS_AUTHOR`, else the git user (`user.name <user.email>`) of this directory, read
    from git's config files; "" when neither is known."""
    given = os.environ.get("HABITUS_AUTHOR", "").strip()
    if given:
        return given[:MAX_AUTHOR]
    from habitus.core.project.git import user_identity

    try:
        here = Path.cwd()
    except OSError:  # the working directory was removed
        here = None
    return (user_identity(here) or "")[:MAX_AUTHOR]


@dataclass(frozen=True)
class Settings:
    """Everything needed to open a memory service."""

    db: str = field(default_factory=default_db_path)
    embedder: str = field(default_factory=lambda: os.environ.get("HABITUS_EMBEDDER", "minilm"))
    # Options for object storage (credentials, endpoint, region...), passed to LanceDB.
    storage_options: dict[str, str] | None = field(
        default_factory=default_storage_options, repr=False
    )
    # Who this server writes for: recorded with every memory it stores ("" = unknown).
    author: str = field(default_factory=default_author)
    # An optional OpenAI-compatible chat model for reflect (see core.reflection.llm); "" = none.
    llm_url: str = field(default_factory=lambda: os.environ.get("HABITUS_LLM_URL", ""))
    llm_model: str = field(default_factory=lambda: os.environ.get("HABITUS_LLM_MODEL", ""))
    llm_api_key: str = field(
        default_factory=lambda: os.environ.get("HABITUS_LLM_API_KEY", ""), repr=False
    )
    llm_timeout: float = 60.0
    # Replace credentials in what is stored with a marker (see core.trust.redaction); on unless
    # HABITUS_REDACT_SECRETS is 0/false/no/off.
    redact_secrets: bool = field(
        default_factory=lambda: os.environ.get("HABITUS_REDACT_SECRETS", "1").strip().lower()
        not in ("0", "false", "no", "off")
    )

    @property
    def is_local(self) -> bool:
        return "://" not in self.db

    def resolved_db(self) -> str:
        """The store URI, with a local path made absolute."""
        return str(Path(self.db).expanduser().resolve()) if self.is_local else self.db

    def resolved_storage_options(self) -> dict[str, str] | None:
        """The storage options the store is opened with (see `effective_storage_options`)."""
        return effective_storage_options(self.resolved_db(), self.storage_options)
