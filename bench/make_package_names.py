"""Build `core/assets/package-names.json.gz`, the names typo-squatted installs are told from.

Input: two tab-separated lists with a header line, one package a line — the Python index's
(name, version, month, popularity rank) and npm's (name, version, monthly downloads). Output:
the most used names of each (the ones worth squatting) and, for each, the names one edit away
that are themselves in real use (at least 1/`RATIO` of its use), which are not squats.

    python bench/make_package_names.py --pypi pypi.tsv --npm npm.tsv
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
from pathlib import Path

TARGETS = {"pypi": 4000, "npm": 15000}  # most used names per index
RATIO = 50  # a neighbour used this many times less than its target is not "in real use"
OUT = Path(__file__).resolve().parent.parent / "core" / "assets" / "package-names.json.gz"
sys.path.insert(0, str(OUT.parent.parent.parent))


def pypi_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.lower())


def read(path: Path, column: int, *, rank: bool) -> dict[str, float]:
    """Name → use (higher is more used)."""
    use: dict[str, float] = {}
    csv.field_size_limit(10**7)
    with path.open(encoding="utf-8", errors="replace") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows)
        for row in rows:
            if len(row) <= column or not row[column].strip():
                continue
            try:
                value = float(row[column])
            except ValueError:
                continue
            if value <= 0:
                continue
            name = pypi_name(row[0]) if rank else row[0].lower()
            use[name] = max(use.get(name, 0.0), 1.0 / value if rank else value)
    return use


def build(use: dict[str, float], count: int) -> dict[str, list[str]]:
    """The most used names, each with its neighbours in real use."""
    from habitus.core.trust.packages import neighbours

    top = sorted((n for n in use if len(n) >= 5), key=lambda n: -use[n])[:count]
    out: dict[str, list[str]] = {}
    for name in top:
        out[name] = sorted(n for n in neighbours(name) if use.get(n, 0) * RATIO >= use[name])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pypi", type=Path, required=True)
    parser.add_argument("--npm", type=Path, required=True)
    args = parser.parse_args()
    data = {"pypi": build(read(args.pypi, 3, rank=True), TARGETS["pypi"]),
            "npm": build(read(args.npm, 2, rank=False), TARGETS["npm"])}
    text = json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n"
    OUT.write_bytes(gzip.compress(text.encode(), mtime=0))
    print(f"{OUT}: {sum(map(len, data.values()))} names")


if __name__ == "__main__":
    main()
