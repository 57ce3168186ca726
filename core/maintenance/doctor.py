"""`habitus doctor`: where the data lives and whether the store and the embedder work."""

from __future__ import annotations

import time
from typing import Any

from habitus.core.models import CallContext
from habitus.core.service import MemoryService

__all__ = ["diagnose"]


async def diagnose(service: MemoryService) -> dict[str, Any]:
    """Run each check; a failing check says what is wrong instead of raising."""
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"name": name, "ok": ok, "detail": detail})

    check("store", True, service.store.uri)
    try:
        stats = await service.stats()
        check(
            "tables",
            True,
            f"{stats.memories} memories ({stats.deleted} deleted), "
            f"{stats.links} links, {stats.journal} journal entries, {stats.fragments} fragments",
        )
    except Exception as exc:
        check("tables", False, f"cannot read the store: {exc}")
    started = time.perf_counter()
    await service.warm_up()
    status = service.embedder_status
    check(
        "embedder",
        status == "ok",
        f"{service.embedding_model} loaded in {time.perf_counter() - started:.2f}s"
        if status == "ok"
        else f"{status}; recall falls back to lexical search",
    )
    try:
        from habitus.core.text.tokens import count_tokens

        check("tokenizer", count_tokens("hello world") == 2, "o200k_base (offline)")
    except Exception as exc:
        check("tokenizer", False, str(exc))
    try:
        result = await service.recall("habitus doctor check", limit=1, ctx=CallContext())
        check("recall", True, f"{result.search} search answered")
    except Exception as exc:
        check("recall", False, str(exc))
    check(
        "secrets",
        service.settings.redact_secrets,
        "replaced before storing" if service.settings.redact_secrets
        else "stored as written (HABITUS_REDACT_SECRETS is off)",
    )
    from habitus.core.project.scope import detect_scope

    check("scope", True, f"this directory's project scope is {detect_scope().id}")
    return {"path": service.store.uri, "checks": checks}
