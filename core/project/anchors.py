"""Code anchors: a memory names the code it is about, and recall notices when that code changed.

An anchor is a repository-relative path, optionally narrowed to a symbol (`create_app`,
`Store.open`) or a line range (`10-20`), with the hash of the anchored text and the commit it
was written at. It is stored in the memory's metadata (`habitus.anchors`). At recall the anchor is
checked against the caller's working tree (or the tree it was written in): the file must exist,
the symbol must still be defined, and the anchored text must hash the same. Checks are cheap —
one stat per file, and a file is only re-read when its size or mtime changed.

Written as `path`, `path::symbol`, `path#symbol` or `path:10-20` on the command line.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from typing import Any

from habitus.base.errors import InvalidInput
from habitus.core.project import git

__all__ = ["parse_spec", "make_anchor", "check_anchor", "describe", "mark_stale"]

MAX_FILE_BYTES = 4 * 1024 * 1024
_SPEC = re.compile(
    r"^(?P<path>.+?)"
    r"(?:(?:::|#)(?P<symbol>[\w.$]+)|:(?P<start>\d+)(?:-(?P<end>\d+))?)?$"
)
_DEF = (
    r"^(?P<indent>[ \t]*)(?:@[\w.]+.*\n[ \t]*)*(?:export\s+)?(?:default\s+)?"
    r"(?:pub(?:\([^)]*\))?\s+)?"
    r"(?:(?:public|private|protected|static|final|abstract|async|override|inline|extern)\s+)*"
    r"(?:def|class|function|func|fn|struct|enum|interface|type|trait|impl|const|let|var|val|"
    r"module|record|object|macro_rules!)\s+(?:\([^)]*\)\s*)?{name}\b"
)
_ASSIGN = r"^(?P<indent>[ \t]*){name}\s*(?::[^=\n]*)?=(?!=)"


def parse_spec(spec: str | dict[str, Any]) -> dict[str, Any]:
    """`path[::symbol | :start-end]` (or a dict with path/symbol/lines) → {path, symbol, lines}."""
    if isinstance(spec, dict):
        path, symbol, lines = spec.get("path"), spec.get("symbol"), spec.get("lines")
        if isinstance(lines, str):
            parsed = parse_spec(f"x:{lines}")
            lines = parsed["lines"]
    else:
        m = _SPEC.match(spec.strip())
        if not m:
            raise InvalidInput(
                f"cannot read the anchor {spec!r}; use path, path::symbol or path:10-20"
            )
        path, symbol = m["path"], m["symbol"]
        lines = [int(m["start"]), int(m["end"] or m["start"])] if m["start"] else None
    if not isinstance(path, str) or not path.strip():
        raise InvalidInput("an anchor needs a repository-relative path")
    if any(ord(c) < 32 for c in path + (symbol if isinstance(symbol, str) else "")):
        raise InvalidInput("an anchor's path and symbol cannot hold control characters")
    clean = PurePosixPath(path.strip().replace("\\", "/"))
    if clean.is_absolute() or ".." in clean.parts:
        raise InvalidInput(
            f"anchor path {path!r} must be relative to the repository and stay inside it"
        )
    if lines is not None:
        start, end = int(lines[0]), int(lines[1])
        if not 1 <= start <= end:
            raise InvalidInput(f"anchor lines {start}-{end} are not a valid range")
        lines = [start, end]
    return {"path": str(clean), "symbol": symbol or None, "lines": lines}


def _digest(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:32]


# (absolute path) → (size, mtime_ns, text): files are re-read only when they change.
_FILES: OrderedDict[str, tuple[int, int, str | None]] = OrderedDict()


def _read(path: Path) -> str | None:
    """The file's text, or None when it is gone; cached on (size, mtime)."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = str(path)
    cached = _FILES.get(key)
    if cached is not None and cached[:2] == (st.st_size, st.st_mtime_ns):
        _FILES.move_to_end(key)
        return cached[2]
    if st.st_size > MAX_FILE_BYTES or not path.is_file():
        text = None
    else:
        text = path.read_bytes().decode("utf-8", errors="replace")
    _FILES[key] = (st.st_size, st.st_mtime_ns, text)
    if len(_FILES) > 512:
        _FILES.popitem(last=False)
    return text


def _block(text: str, symbol: str) -> str | None:
    """The source of `symbol` (dotted names nest: `Class.method`), or None if it is not defined."""
    for part in symbol.split("."):
        found = None
        for pattern in (_DEF, _ASSIGN):
            m = re.search(pattern.format(name=re.escape(part)), text, re.MULTILINE)
            if m:
                found = m
                break
        if found is None:
            return None
        indent = len(found["indent"].expandtabs())
        lines = text[found.start() :].split("\n")
        body = [lines[0]]
        for line in lines[1:]:
            stripped = line.strip()
            if (
                stripped
                and len(line) - len(line.lstrip()) <= indent
                and not line.lstrip().startswith("@")
            ):
                if stripped[0] in "})]" or stripped.startswith("end"):
                    body.append(line)
                break
            body.append(line)
        text = "\n".join(body)
    return text


def _anchored_text(text: str, anchor: dict[str, Any]) -> tuple[str | None, str | None]:
    """The anchored text and, when it cannot be found, why."""
    if anchor.get("symbol"):
        block = _block(text, anchor["symbol"])
        return (block, None) if block is not None else (None, f"symbol {anchor['symbol']} missing")
    if anchor.get("lines"):
        start, end = anchor["lines"]
        lines = text.split("\n")
        if end > len(lines):
            return None, f"lines {start}-{end} beyond the end of the file ({len(lines)} lines)"
        return "\n".join(lines[start - 1 : end]), None
    return text, None


def make_anchor(spec: str | dict[str, Any], root: str | Path | None) -> dict[str, Any]:
    """Resolve an anchor against the working tree `root` and record what it points at now."""
    anchor = parse_spec(spec)
    if not root:
        raise InvalidInput("a code anchor needs a working tree: run from inside the repository")
    root_path = Path(root).resolve()
    target = (root_path / anchor["path"]).resolve()
    if root_path not in target.parents and target != root_path:
        raise InvalidInput(f"anchor path {anchor['path']!r} leaves the repository")
    text = _read(target)
    if text is None:
        raise InvalidInput(f"anchor file {anchor['path']} does not exist under {root_path}")
    block, problem = _anchored_text(text, anchor)
    if block is None:
        raise InvalidInput(f"anchor {describe(anchor)}: {problem}")
    anchor.update(hash=_digest(block), commit=git.head_commit(root_path), root=str(root_path))
    return anchor


def check_anchor(anchor: dict[str, Any], workdir: str | None) -> str | None:
    """None when the anchored code is unchanged, else why the memory is stale.

    Raises nothing: an anchor that cannot be checked (no working tree here) is not stale.
    """
    root = workdir or anchor.get("root")
    if not root or not os.path.isdir(root):
        return None
    target = Path(root) / anchor["path"]
    text = _read(target)
    if text is None:
        return f"file {anchor['path']} is gone"
    block, problem = _anchored_text(text, anchor)
    if block is None:
        return problem
    if _digest(block) == anchor.get("hash"):
        return None
    if anchor.get("lines") and not anchor.get("symbol"):
        moved = _find_moved(text, anchor)
        if moved is not None:
            return None
    what = f"{anchor['symbol']} in {anchor['path']}" if anchor.get("symbol") else anchor["path"]
    return f"content of {what} changed since {(anchor.get('commit') or 'it was written')[:12]}"


def _find_moved(text: str, anchor: dict[str, Any]) -> int | None:
    """The new first line of an anchored line range that only moved, if it did."""
    start, end = anchor["lines"]
    size = end - start + 1
    lines = text.split("\n")
    if len(lines) > 20_000:
        return None
    for i in range(0, max(0, len(lines) - size) + 1):
        if _digest("\n".join(lines[i : i + size])) == anchor.get("hash"):
            return i + 1
    return None


def describe(anchor: dict[str, Any]) -> str:
    """`path`, `path::symbol` or `path:10-20`, with the commit when known."""
    text = anchor["path"]
    if anchor.get("symbol"):
        text += f"::{anchor['symbol']}"
    elif anchor.get("lines"):
        text += f":{anchor['lines'][0]}-{anchor['lines'][1]}"
    if anchor.get("commit"):
        text += f"@{anchor['commit'][:10]}"
    return text


def mark_stale(hits: list[Any], workdir: str | None) -> None:
    """Check the anchors of recall hits in place: `stale` and `stale_reason` on each."""
    for hit in hits:
        reasons = [r for a in getattr(hit, "_anchors", []) if (r := check_anchor(a, workdir))]
        if reasons:
            hit.stale, hit.stale_reason = True, "; ".join(reasons)
