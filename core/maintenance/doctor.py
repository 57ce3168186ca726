"""`habitus doctor`: where the data lives and whether the store and the embedder work.

The store is tried first on its own (`reach`): whether its location answers, whether it can be
read with the credentials given, and whether this user may write and delete there — each
failure said in one line with what is missing. Only a store that passes is opened for the other
checks (tables, embedder, tokenizer, recall).
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

from habitus.core.config import Settings
from habitus.core.models import CallContext
from habitus.core.service import MemoryService
from habitus.core.storage_options import endpoint_of, plain_http_note

__all__ = ["diagnose", "reach", "explain"]

Check = dict[str, Any]


def _check(name: str, ok: bool, detail: str) -> Check:
    return {"name": name, "ok": ok, "detail": detail}


async def reach(settings: Settings) -> list[Check]:
    """Try the store before opening it: reachable and readable, writable, and how it is
    reached (plain HTTP)."""
    from habitus.store import probe

    uri = settings.resolved_db()
    options = settings.resolved_storage_options()
    found = await probe(uri, options)
    checks = [_check("store", True, uri)]
    note = plain_http_note(uri, options)
    if note:
        checks.append(_check("endpoint", True, note))
    if found.failed == "reach":
        checks.append(_check("reach", False, explain(found.error, uri, options, "read")))
        return checks
    tables = [t for t in found.tables if not t.startswith("habitus_probe_")]
    checks.append(_check("reach", True, f"answers; {len(tables)} tables"
                         + (" (a new store: they are made on first use)" if not tables else "")))
    if found.failed is not None:
        action = "delete" if found.failed == "delete" else "write"
        checks.append(_check("write", False, explain(found.error, uri, options, action)))
    else:
        checks.append(_check("write", True, "a table was written and removed"))
    return checks


def explain(
    error: BaseException | None, uri: str, options: dict[str, str] | None, action: str
) -> str:
    """What a failure to `action` (read, write, delete) in the store means, and what to do,
    in one line."""
    text = str(error or "")
    code = (re.search(r"<Code>([A-Za-z]+)</Code>", text) or [None, ""])[1]
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    bucket = urlsplit(uri).netloc if scheme else ""
    where = endpoint_of(options) or (f"{scheme}://{bucket}" if scheme else uri)
    if not scheme:
        return (f"cannot {action} the folder {uri} ({_short(text)}): check that it exists "
                "and that this user may read and write it")
    if "BadScheme" in text:
        return (f"{where} is plain http:// and plain HTTP is not allowed: add "
                "--storage-option allow_http=true")
    if "credentials" in text.lower() and code == "":
        return f"no credentials found for {scheme}://: {_credentials_hint(scheme)}"
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                "InvalidToken", "InvalidClientTokenId", "AuthenticationFailed"):
        return f"the credentials were refused ({code}): {_credentials_hint(scheme)}"
    if code == "NoSuchBucket" or "ContainerNotFound" in text or "bucket does not exist" in text:
        return f"the bucket {bucket} does not exist at {where}: create it first"
    if code in ("PermanentRedirect", "AuthorizationHeaderMalformed") or "region" in code.lower():
        return (f"the bucket {bucket} is in another region ({code}): set it with "
                "--storage-option aws_region=REGION")
    if code == "AccessDenied" or "403" in text or "Forbidden" in text:
        return (f"access denied ({code or '403'}): the credentials may not {action} in "
                f"{scheme}://{bucket}; grant them read, write and delete there")
    if any(s in text for s in ("Connect", "dns error", "timed out", "Timeout", "onnection")):
        return f"cannot reach {where} ({_short(text)}): is it running, and the address right?"
    return f"cannot {action} the store ({_short(text)})"


def _credentials_hint(scheme: str) -> str:
    if scheme in ("gs", "gcs"):
        return ("give a service account with --storage-option google_service_account=PATH "
                "(or GOOGLE_SERVICE_ACCOUNT / GOOGLE_APPLICATION_CREDENTIALS)")
    if scheme in ("az", "abfs", "azure"):
        return ("give --storage-option azure_storage_account_name=NAME and "
                "azure_storage_account_key=KEY (or AZURE_STORAGE_ACCOUNT_NAME / _KEY)")
    return ("give --storage-option aws_access_key_id=ID and aws_secret_access_key=SECRET "
            "(or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)")


def _short(text: str) -> str:
    """The gist of a LanceDB error: the innermost message, at most 160 characters."""
    for pattern in (r'message: "([^"]+)"', r"<Message>([^<]+)</Message>", r"source: (\w+) }"):
        found = re.findall(pattern, text)
        if found:
            return found[-1][:160]
    return text.splitlines()[0][:160] if text else "no detail"


async def diagnose(service: MemoryService) -> dict[str, Any]:
    """Run each check on the opened service; a failing check says what is wrong instead of
    raising."""
    checks: list[Check] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append(_check(name, ok, detail))

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
    check("author", True, service.settings.author
          or "unknown (set HABITUS_AUTHOR or --author, or git's user.name and user.email)")
    from habitus.core.project.scope import detect_scope

    check("scope", True, f"this directory's project scope is {detect_scope().id}")
    return {"path": service.store.uri, "checks": checks}
