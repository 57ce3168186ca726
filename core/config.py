"""Settings: where the store lives, how to reach it, who writes, which embedder and which
optional language model to use, from arguments or environment.

Only entry points (CLI, server start-up) read the environment; the core receives `Settings`.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from habitus.base import dirs
from habitus.base.errors import InvalidInput

__all__ = [
    "Settings",
    "default_db_path",
    "default_author",
    "default_storage_options",
    "parse_storage_options",
    "storage_option",
    "effective_storage_options",
    "endpoint_of",
    "plain_http_note",
    "registration_env",
    "STORAGE_OPTIONS_ENV",
    "MAX_AUTHOR",
]

STORAGE_OPTIONS_ENV = "HABITUS_STORAGE_OPTIONS"
# An author longer than this is cut: it is a name and an address, stored with every memory.
MAX_AUTHOR = 200
# Where an S3-compatible endpoint and the permission to use plain HTTP may be given: the
# storage options LanceDB takes (any case), then the environment variables it reads.
_ENDPOINT_KEYS = ("aws_endpoint", "aws_endpoint_url", "endpoint", "endpoint_url")
_ENDPOINT_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT")
_ALLOW_HTTP_KEYS = ("allow_http", "aws_allow_http")


def default_db_path() -> str:
    """`HABITUS_DB`, else a `store` folder in the user's data directory."""
    env = os.environ.get("HABITUS_DB")
    if env:
        return env
    return str(dirs.data_dir() / "store")


def storage_option(text: str) -> tuple[str, str]:
    """One `KEY=VALUE` storage option (as `--storage-option` takes it)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(c.isspace() for c in key):
        raise InvalidInput(
            f"a storage option is KEY=VALUE (e.g. aws_region=eu-west-1), got {text!r}")
    return key, value.strip()


def parse_storage_options(text: str) -> dict[str, str]:
    """`HABITUS_STORAGE_OPTIONS`: a JSON object of strings, or `key=value` pairs separated by
    commas (a value cannot then hold a comma: use JSON)."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"{STORAGE_OPTIONS_ENV} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or not all(
            isinstance(v, str | int | float | bool) for v in data.values()
        ):
            raise InvalidInput(
                f"{STORAGE_OPTIONS_ENV} must be a JSON object of strings, e.g. "
                '{"aws_region": "eu-west-1"}')
        return {str(k): _option_text(v) for k, v in data.items()}
    return dict(storage_option(part) for part in text.split(",") if part.strip())


def _option_text(value: str | int | float | bool) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def default_storage_options() -> dict[str, str] | None:
    """The storage options of `HABITUS_STORAGE_OPTIONS` (None: not set)."""
    text = os.environ.get(STORAGE_OPTIONS_ENV, "")
    return parse_storage_options(text) or None


def endpoint_of(
    options: Mapping[str, str] | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The S3-compatible endpoint given in `options`, else in the environment (None: AWS's)."""
    lowered = {k.lower(): v for k, v in (options or {}).items()}
    for key in _ENDPOINT_KEYS:
        if lowered.get(key):
            return lowered[key]
    environ = os.environ if environ is None else environ
    return next((environ[k] for k in _ENDPOINT_ENV if environ.get(k)), None)


def effective_storage_options(
    uri: str, options: Mapping[str, str] | None, environ: Mapping[str, str] | None = None
) -> dict[str, str] | None:
    """The options to open `uri` with: `options`, plus `allow_http=true` for an `s3://` store
    whose endpoint the user gave as plain `http://` (a local MinIO or S3 stand-in) and who did
    not say otherwise — LanceDB refuses such an endpoint (`BadScheme`) without it."""
    found = dict(options or {})
    if not uri.lower().startswith(("s3://", "s3+ddb://")):
        return found or None
    environ = os.environ if environ is None else environ
    endpoint = endpoint_of(found, environ)
    given = {k.lower() for k in found} & set(_ALLOW_HTTP_KEYS) or environ.get("AWS_ALLOW_HTTP")
    if endpoint and endpoint.lower().startswith("http://") and not given:
        found["allow_http"] = "true"
    return found or None


def plain_http_note(uri: str, options: Mapping[str, str] | None) -> str | None:
    """What to say of an `s3://` store reached over plain HTTP, as `options` (the effective
    ones) allow (None: it is not, or not allowed: the store then says so when tried)."""
    endpoint = endpoint_of(options)
    allowed = {k.lower(): v for k, v in (options or {}).items()}
    if not uri.lower().startswith(("s3://", "s3+ddb://")) or not endpoint or not (
        endpoint.lower().startswith("http://")
    ) or allowed.get("allow_http", allowed.get("aws_allow_http", "")).lower() != "true":
        return None
    host = urlsplit(endpoint).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    where = "this machine" if loopback else host
    return (f"the endpoint {endpoint} is plain HTTP (allow_http is set for it)"
            + ("" if loopback else f": what is stored travels unencrypted to {where}"))


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
