"""Planted instructions against benign look-alikes: what the detector flags, per category.

Each labelled set (`bench/data/injection_*.jsonl`, one object a line: `label` planted or benign,
`category`, `text`) is read through `suspicion`, as every memory is when written. A benign text's
category is the kind of attack it resembles ("ignore E501 in generated code" is an `override`
look-alike). Printed per category and in total: planted flagged (recall) and benign flagged
(false positives), with the texts the rules got wrong when `--errors` is given.

`injection_dev.jsonl` was written before the rules were tuned and the rules were tuned on it;
each `injection_heldout*.jsonl` was written after a round of tuning, and measured before the
next round (a held-out set stays held out only until its errors are read).

    python bench/bench_injection.py [--errors] [FILE ...]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from habitus.core.trust.instructions import findings

DATA = Path(__file__).resolve().parent / "data"
SETS = sorted(DATA.glob("injection_*.jsonl"))


def measure(path: Path, errors: bool) -> tuple[int, int, int, int]:
    """Print one set's figures; returns planted flagged, planted, benign flagged, benign."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    wrong: list[tuple[str, str, str]] = []
    started = time.perf_counter()
    for row in rows:
        found = findings(row["text"])
        planted = row["label"] == "planted"
        count = counts[row["category"]]
        count[0 if planted else 2] += bool(found)
        count[1 if planted else 3] += 1
        if bool(found) != planted:
            why = ", ".join(f"{f.category}: {f.evidence}" for f in found)
            wrong.append((row["label"], row["category"], f"{row['text']!r} {why}".strip()))
    took = (time.perf_counter() - started) / max(len(rows), 1) * 1000
    print(f"\n{path.name}: {len(rows)} texts, {took:.2f} ms a text")
    print(f"{'category':24} {'planted flagged':>16} {'benign flagged':>16}")
    for category in sorted(counts):
        p, pn, b, bn = counts[category]
        print(f"{category:24} {_share(p, pn):>16} {_share(b, bn):>16}")
    totals = [sum(c[i] for c in counts.values()) for i in range(4)]
    print(f"{'all':24} {_share(totals[0], totals[1]):>16} {_share(totals[2], totals[3]):>16}")
    if errors:
        for label, category, text in wrong:
            print(f"  {'missed' if label == 'planted' else 'false positive'} [{category}] {text}")
    return totals[0], totals[1], totals[2], totals[3]


def _share(hit: int, of: int) -> str:
    return f"{hit}/{of} ({100 * hit / of:.0f}%)" if of else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=SETS)
    parser.add_argument("--errors", action="store_true", help="print the texts judged wrongly")
    args = parser.parse_args()
    for path in args.files:
        measure(path, args.errors)


if __name__ == "__main__":
    main()
