"""Settings: where the store lives, which embedder and which optional language model to use,
from arguments or environment.

Only entry points (CLI, server start-up) read the environment; the core receives `Settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from habitus.base import dirs

__all__ = ["Settings", "default_db_path"]


def default_db_path() -> str:
    """`HABITUS_DB`, else a `store` folder in the user's data directory."""
    env = os.environ.get("HABITUS_DB")
    if env:
        return env
    return str(dirs.data_dir() / "store")


@dataclass(frozen=True)
class Settings:
    """Everything needed to open a memory service."""

    db: str = field(default_factory=default_db_path)
    embedder: str = field(default_factory=lambda: os.environ.get("HABITUS_EMBEDDER", "minilm"))
    storage_options: dict[str, str] | None = None
    # An optional OpenAI-compatible chat model for reflect (see core.reflection.llm); "" = none
    # configured.
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
