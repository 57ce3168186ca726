"""One trust policy for every way a memory reaches a model's context.

Memories enter a model's context through several channels: the context injected at the start
of a session and with each prompt (lifecycle hooks), the `memory://brief` resource, the files
`habitus compile` writes, and the trust marked on each recall result. Each asks `verdict` and
follows it:

- **suspicious** content (flagged when written, or found so now by the current rules) goes into
  no context and no file, whoever wrote it, until a person confirms it (`habitus confirm ID`);
  recall still finds it, marked;
- **trusted** content — a person wrote it (`user`) or confirmed it — goes in as the project's
  own word, and is the only content the brief and compiled files take;
- anything else (written by an assistant, captured by hooks, imported, distilled, consolidated)
  goes in only as quoted data with its source (`quoted`), never as an instruction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from habitus.core.meta import meta_of
from habitus.core.trust.provenance import TRUSTED_SOURCES, suspicion

__all__ = ["Verdict", "verdict", "verdict_of", "quoted"]

Trust = Literal["confirmed", "trusted", "untrusted"]


@dataclass(frozen=True)
class Verdict:
    """What a memory may be in a model's context."""

    source: str
    trust: Trust
    suspicious: str | None  # why it reads as instructions to the model (None: it does not)

    @property
    def admitted(self) -> bool:
        """May enter a model's context at all (as the project's word or as quoted data)."""
        return self.trust == "confirmed" or not self.suspicious

    @property
    def own(self) -> bool:
        """May enter as the project's own word: the brief, compiled instruction files."""
        return self.trust in ("confirmed", "trusted")


def verdict(content: str, section: Mapping[str, Any]) -> Verdict:
    """The policy for a memory of `content` whose metadata's `habitus` section is `section`:
    its source, trust and suspicion (the flag written with it, else the current rules')."""
    source = str(section.get("source") or "user")
    flagged = section.get("suspicious") or suspicion(content)
    if section.get("confirmed"):
        return Verdict(source, "confirmed", flagged or None)
    if flagged or source not in TRUSTED_SOURCES:
        return Verdict(source, "untrusted", flagged or None)
    return Verdict(source, "trusted", None)


def verdict_of(row: Mapping[str, Any]) -> Verdict:
    """`verdict` of a stored row (its `content` and `metadata`)."""
    return verdict(row["content"], meta_of(dict(row))[1])


def quoted(text: str, judged: Verdict) -> str:
    """`text` as it may appear in a model's context: as is when trusted, else as a quoted
    string (quotes and line breaks escaped, so it cannot pass for instructions) that names who
    wrote it."""
    if judged.own:
        return text
    return f"{json.dumps(text, ensure_ascii=False)} (written by {judged.source}, unconfirmed)"
