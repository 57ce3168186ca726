"""Benign text from real projects: how many of its paragraphs the detector flags.

The labelled sets hold look-alikes written for the purpose; this reads what projects really
write — the Markdown, reStructuredText and package descriptions installed on the machine
(site-packages, `/usr/share/doc`, global node modules by default) — splits it into paragraphs,
and reports how many the detector flags, per category, with examples. Every paragraph there is
benign by construction (a package's README is no attack on its reader), so each one flagged is a
false positive — or documentation that tells its reader to do what an attack would ("curl … |
sh" to install), which a memory should not tell an assistant either.

    python bench/bench_injection_corpus.py [--limit N] [--examples N] [ROOT ...]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from habitus.core.trust.instructions import findings

ROOTS = [Path(sys.prefix) / "lib", Path("/usr/share/doc"), Path("/usr/lib/node_modules")]
_NAMES = re.compile(r"(?:\.(?:md|markdown|rst|txt)|^README[^/]*|^CONTRIBUTING[^/]*|^METADATA)"
                    r"(?:\.gz)?$", re.I)
_BLANK = re.compile(r"\n\s*\n")


def _files(roots: list[Path]) -> list[Path]:
    out = []
    for root in roots:
        if root.is_dir():
            out.extend(p for p in root.rglob("*") if p.is_file() and _NAMES.search(p.name))
    return sorted(out)


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        return raw[:400_000].decode("utf-8", "replace")
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""


def paragraphs(roots: list[Path]) -> list[tuple[str, str]]:
    """(file, paragraph) for every distinct paragraph of at least 40 characters with words in it."""
    seen: set[bytes] = set()
    out = []
    for path in _files(roots):
        for para in _BLANK.split(_read(path)):
            para = para.strip()
            if len(para) < 40 or len(re.findall(r"[^\W\d_]{3,}", para)) < 5:
                continue
            key = hashlib.blake2b(para.encode(), digest_size=12).digest()
            if key not in seen:
                seen.add(key)
                out.append((str(path), para))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", type=Path, default=ROOTS)
    parser.add_argument("--limit", type=int, default=0,
                        help="read only every k-th paragraph so that about N remain")
    parser.add_argument("--examples", type=int, default=5, help="examples shown per category")
    args = parser.parse_args()
    paras = paragraphs(args.roots)
    if args.limit and len(paras) > args.limit:
        step = len(paras) / args.limit
        paras = [paras[int(i * step)] for i in range(args.limit)]
    flagged: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    hits = 0
    started = time.perf_counter()
    for path, para in paras:
        found = findings(para)
        hits += bool(found)
        for f in found:
            flagged[f.category] += 1
            if len(examples[f.category]) < args.examples:
                examples[f.category].append(f"{path}\n      {f.evidence!r}")
    took = time.perf_counter() - started
    print(f"{len(paras)} paragraphs from {len({p for p, _ in paras})} files in "
          f"{', '.join(map(str, args.roots))} ({took:.1f} s)")
    print(f"flagged: {hits} ({100 * hits / max(len(paras), 1):.2f}%)")
    for category, n in flagged.most_common():
        print(f"  {category:24} {n}")
        for example in examples[category]:
            print(f"    {example}")


if __name__ == "__main__":
    main()
