"""Storage options: how habitus reaches a store on object storage (credentials, endpoint,
region…), given as `--storage-option KEY=VALUE` or `HABITUS_STORAGE_OPTIONS` (which `install`
writes into an assistant's registration), and passed to LanceDB as they are — with `allow_http`
added where a plain-HTTP endpoint was clearly meant."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from habitus.base.errors import InvalidInput

__all__ = [
    "STORAGE_OPTIONS_ENV",
    "storage_option",
    "parse_storage_options",
    "default_storage_options",
    "endpoint_of",
    "effective_storage_options",
    "plain_http_note",
]

STORAGE_OPTIONS_ENV = "HABITUS_STORAGE_OPTIONS"
# Where an S3-compatible endpoint and the permission to use plain HTTP may be given: the
# storage options LanceDB takes (any case), then the environment variables it reads.
_ENDPOINT_KEYS = ("aws_endpoint", "aws_endpoint_url", "endpoint", "endpoint_url")
_ENDPOINT_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT")
_ALLOW_HTTP_KEYS = ("allow_http", "aws_allow_http")


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
