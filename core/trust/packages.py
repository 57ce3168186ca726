"""Typo-squatted installs: a package name one edit away from a much used one.

Attackers publish `reqeusts`, `crossenv` or `urlib3` and wait for an install command with the
typo; a memory that tells the assistant to install one is an attack on whoever follows it. The
names worth squatting, with their neighbours that are themselves in real use, ship in
`assets/package-names.json.gz` (made by `bench/make_package_names.py` from the indexes' own
popularity figures); nothing is looked up at run time.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import cache
from importlib import resources

__all__ = ["neighbours", "installs", "squats"]

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-._"
# An install command and what follows it, up to the end of the command.
_PIP = r"(?:pip3?|python3?\s+-m\s+pip|uv\s+pip|pipx|poetry|pdm|uv|conda|mamba)"
_NPM = r"(?:npm|pnpm|yarn|bun)"
_COMMAND = re.compile(
    rf"\b(?:(?P<pip>{_PIP})|(?P<npm>{_NPM}))\s+(?:install|i|add)\s+(?P<rest>[^;&|\n)]+)", re.I)
_FROM = re.compile(r"\binstall\s+`?(?P<name>[\w.@/-]+)`?\s+from\s+(?P<where>pypi|npm)\b", re.I)
# A package declared as a dependency: "add `x` to requirements.txt", "… to package.json".
_DECLARED = re.compile(
    r"\badd\s+`?(?P<name>@?[\w.-]+(?:/[\w.-]+)?)(?:[=<>~!]=?[\w.*]+)?`?\s+(?:as\s+a\s+"
    r"(?:dev\s+)?dependency\s+)?(?:to|in(?:to)?)\s+(?:the\s+|our\s+)?`?(?P<where>requirements"
    r"[\w.-]*\.(?:txt|in)|pyproject(?:\.toml)?|setup\.(?:py|cfg)|pipfile|environment\.ya?ml"
    r"|package\.json|(?:dev)?dependencies)\b", re.I)
# Options whose value follows them: the value is no package.
_VALUED = frozenset({"-r", "-c", "-e", "-i", "-t", "--requirement", "--constraint",
                     "--index-url", "--extra-index-url", "--target", "--editable", "-f"})
# Words that end the list of packages in a sentence ("pip install x to get …").
_PROSE = frozenset({"to", "for", "and", "or", "is", "are", "in", "on", "with", "from", "before",
                    "after", "so", "if", "then", "when", "first", "once", "as", "the", "a",
                    "needs", "needed", "which", "that", "inside", "into", "again", "instead"})


def neighbours(name: str) -> set[str]:
    """Every name one edit away: a letter left out, added, changed, or two swapped."""
    out: set[str] = set()
    for i in range(len(name) + 1):
        head, tail = name[:i], name[i:]
        if tail:
            out.add(head + tail[1:])
            if len(tail) > 1:
                out.add(head + tail[1] + tail[0] + tail[2:])
        for c in _ALPHABET:
            out.add(head + c + tail)
            if tail:
                out.add(head + c + tail[1:])
    out.discard(name)
    return out


@cache
def _names() -> dict[str, dict[str, frozenset[str]]]:
    packed = resources.files("habitus.core").joinpath("assets/package-names.json.gz")
    raw = json.loads(gzip.decompress(packed.read_bytes()))
    return {index: {name: frozenset(near) for name, near in names.items()}
            for index, names in raw.items()}


def _pypi(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.lower())


def _package(token: str, index: str) -> str | None:
    """The package a command-line word names (None: an option, a path, a file)."""
    token = token.strip("`'\",;:.")
    if not token or token.startswith(("-", ".", "/", "~", "$")) or "://" in token:
        return None
    if index == "npm":
        scoped = token.startswith("@")
        token = ("@" if scoped else "") + token.lstrip("@").split("@")[0]
    else:
        token = re.split(r"[<>=!~\[;@ ]", token)[0]
    if not re.fullmatch(r"@?[\w.-]+(?:/[\w.-]+)?", token) or token.endswith((".txt", ".toml")):
        return None
    return _pypi(token) if index == "pypi" else token.lower()


def installs(text: str) -> list[tuple[str, str]]:
    """The (index, package) pairs that install commands in `text` name."""
    found: list[tuple[str, str]] = []
    for match in _COMMAND.finditer(text):
        index = "pypi" if match["pip"] else "npm"
        skip = False
        for word in match["rest"].split():
            if word.startswith(("#", "[", "...", "$", ">")):
                break  # a comment, an elision or a prompt: the command has ended
            if skip:
                skip = False
                continue
            if word in _VALUED:
                skip = True
                continue
            if word.lower().strip("`'\",.;:") in _PROSE:
                break
            name = _package(word, index)
            if name:
                found.append((index, name))
            if word.endswith((".", ",", ";", ":", "`")):
                break
    for match in _FROM.finditer(text):
        index = "pypi" if match["where"].lower() == "pypi" else "npm"
        name = _package(match["name"], index)
        if name:
            found.append((index, name))
    for match in _DECLARED.finditer(text):
        where = match["where"].lower()
        index = "npm" if where in ("package.json", "devdependencies") else "pypi"
        name = _package(match["name"], index)
        if name:
            found.append((index, name))
    return found


def _typo_at(name: str, target: str) -> int:
    """Where `name` first departs from `target`, counted from the start."""
    return next((i for i, (a, b) in enumerate(zip(name, target, strict=False)) if a != b),
                min(len(name), len(target)))


def _plausible_typo(name: str, target: str) -> bool:
    """Whether `name` reads as `target` mistyped: slips rarely touch a word's first letter
    ("range" is no typo of "drange"), and a four-letter name is only taken for a five-letter
    one with a letter left out inside it ("flsk" for "flask", not "boto" for "boto3"); a digit
    added at the end names a fork or a version, not a slip."""
    at = _typo_at(name, target)
    if at == 0 or (len(name) == len(target) + 1 and name.startswith(target)
                   and name[-1].isdigit()):
        return False  # the first letter, or a numbered fork ("httpx2")
    return len(name) >= 5 or (len(target) == 5 and at < len(name))


def squats(text: str) -> list[tuple[str, str]]:
    """(name installed, the much used name it imitates) for each squat `text` installs."""
    out = []
    for index, name in installs(text):
        known = _names().get(index, {})
        if len(name) < 4 or name in known:
            continue
        for target in sorted(neighbours(name) & known.keys()):
            if name not in known[target] and _plausible_typo(name, target):
                out.append((name, target))
                break
    return out
