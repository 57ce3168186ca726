"""Secrets kept out of memory: credentials in what is about to be stored are replaced with a
marker before anything reaches the store, the embedder or the journal.

Assistants paste commands, configs and tool output into memories, and trajectories carry every
`export TOKEN=...` an agent ran; a memory store is the last place a key should live, since it
is recalled into other sessions and exported. Two kinds of rule:

- **formats** that only credentials have (`ghp_…`, `AKIA…`, `sk-ant-…`, private-key blocks,
  JSON web tokens, the password in `scheme://user:password@host`, `Bearer …`): always replaced;
- **assignments** to a name that says it holds a secret (`DB_PASSWORD=…`, `api_key: "…"`,
  `client_secret = …`): the value is replaced when it is quoted, or when it mixes letters with
  digits or symbols the way generated secrets do — not when it points at the secret (a URL, a
  path, `settings.SECRET_KEY`) or the name is about one (`token_url`, `secret_name`), so
  `token_budget: 4000` and `password = get_password()` are left alone.

The name and separator stay (`DB_PASSWORD=[redacted: password]`), so the memory still says what
was configured, and each answer says which kinds were taken out.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["redact", "assigned_kind", "secret_name", "MARKER"]

MARKER = "[redacted: {kind}]"

_Rule = tuple[str, re.Pattern[str], int]  # kind, pattern, the group holding the secret

_FORMATS: tuple[_Rule, ...] = (
    ("private key", re.compile(
        r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S), 0),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), 0),
    ("GitHub token", re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"), 0),
    ("GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,255}"), 0),
    # The typed prefix alone (`sk-ant-api03-`) counts: a key cut short still leaks its head.
    ("Anthropic API key", re.compile(
        r"\bsk-ant-(?:[a-z]{2,8}\d{2}-[A-Za-z0-9_-]{0,255}|[A-Za-z0-9_-]{20,255})"), 0),
    ("OpenAI API key", re.compile(
        r"\bsk-(?!ant-)(?=[A-Za-z0-9_-]{0,255}\d)[A-Za-z0-9_-]{20,255}"), 0),
    ("Stripe key", re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,255}"), 0),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,255}"), 0),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), 0),
    ("Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,255}\b"), 0),
    ("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), 0),
    ("PyPI token", re.compile(r"\bpypi-AgE[A-Za-z0-9_-]{50,512}"), 0),
    ("SendGrid API key", re.compile(r"\bSG\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{16,128}"), 0),
    ("Azure storage key", re.compile(
        r"(?i)\b(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{20,256}={0,2})"), 1),
    ("Azure SAS signature", re.compile(r"[?&;]sig=([A-Za-z0-9%+/]{20,256}(?:=|%3D){0,2})"), 1),
    ("Mailgun API key", re.compile(r"\bkey-[0-9a-z]{32}\b"), 0),
    ("Twilio API key", re.compile(r"\bSK[0-9a-f]{32}\b"), 0),
    ("JSON web token", re.compile(
        r"\beyJ[A-Za-z0-9_-]{8,512}\.eyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,1024}"), 0),
    ("password in URL", re.compile(r"(?<=://)[^\s:/@]{1,256}:([^\s@/]{1,256})(?=@)"), 1),
    ("bearer token", re.compile(r"\b[Bb]earer\s{1,8}([A-Za-z0-9._~+/-]{16,4096}={0,2})"), 1),
)

# NAME <sep> VALUE, where NAME says it holds a secret; VALUE quoted or bare. Every repeat is
# bounded, so that no input makes a pattern scan the rest of the text from each position.
_NAME = (
    r"[a-z0-9_.-]{0,40}(?:password|passwd|passphrase|secret|token|api[_-]?key"
    r"|access[_-]?key|private[_-]?key|credentials?)[a-z0-9_.-]{0,40}"
)
_SECRET_NAME = re.compile(rf"(?i){_NAME}")
_ASSIGNED = re.compile(
    rf"(?i)\b(?P<name>{_NAME})"
    r"(?P<sep>[\"']?[ \t]{0,8}(?::=|=>|[:=])[ \t]{0,8})"
    r"(?:(?P<quote>[\"'])(?P<quoted>[^\"'\s]{8,512})(?P=quote)"
    r"|(?P<bare>[^\s\"'`,;()\[\]{}<>$]{8,512}))"
)
_GENERATED = re.compile(r"(?=.*[A-Za-z])(?=.*[0-9!@#%^&*+/=~-])")
_PLACEHOLDER = re.compile(r"(?i)^(?:x{3,}|\*{3,}|redacted|changeme|placeholder|none|null)$")
# Values that name or locate a secret rather than being one: URLs, paths, attribute access.
_REFERENCE = re.compile(r"(?i)^(?:[a-z][a-z0-9+.-]*://|[/~.]|[a-z_]\w*(?:\.[a-z_]\w*)+$)")
# Names about a secret, not holding it: `token_url`, `secret_name`, `password_min_length`.
_ABOUT = re.compile(
    r"(?i)[_.-](?:url|uri|path|file|dir|name|type|ttl|expiry|expires|length|len|size|count"
    r"|env|var|field|header|prefix|endpoint|host|id)$"
)


def secret_name(name: str) -> bool:
    """Whether `name` (a key, a variable) says that it holds a secret."""
    return _SECRET_NAME.fullmatch(name) is not None


def _kind_of(name: str) -> str:
    lowered = name.lower()
    for word in ("password", "passwd", "passphrase"):
        if word in lowered:
            return "password"
    return "token" if "token" in lowered else "secret"


def _replace(kind: str, group: int, found: list[str]) -> Callable[[re.Match[str]], str]:
    def sub(match: re.Match[str]) -> str:
        found.append(kind)
        start, end = match.span(group)
        offset = match.start()
        text = match.group(0)
        return text[: start - offset] + MARKER.format(kind=kind) + text[end - offset :]

    return sub


def assigned_kind(name: str, value: str, *, quoted: bool) -> str | None:
    """The kind of secret `value` is when assigned to `name`; None when it is not one."""
    if (not 8 <= len(value) <= 512 or any(c.isspace() for c in value)
            or _PLACEHOLDER.match(value) or value.startswith("[redacted")
            or _REFERENCE.match(value) or _ABOUT.search(name)):
        return None
    if not quoted and not _GENERATED.match(value):
        return None
    return _kind_of(name)


def _assignment(found: list[str]) -> Callable[[re.Match[str]], str]:
    def sub(match: re.Match[str]) -> str:
        name = match.group("name")
        value = match.group("quoted") or match.group("bare") or ""
        kind = assigned_kind(name, value, quoted=match.group("bare") is None)
        if kind is None:
            return match.group(0)
        found.append(kind)
        quote = match.group("quote") or ""
        return f"{name}{match.group('sep')}{quote}{MARKER.format(kind=kind)}{quote}"

    return sub


def redact(text: str) -> tuple[str, list[str]]:
    """`text` with its secrets replaced, and the kinds replaced (sorted, each once)."""
    found: list[str] = []
    for kind, pattern, group in _FORMATS:
        text = pattern.sub(_replace(kind, group, found), text)
    text = _ASSIGNED.sub(_assignment(found), text)
    return text, sorted(set(found))
