"""Pairs of facts written one after the other: absorbed, superseded or linked, per kind.

Each pair of `bench/data/fact_pairs.jsonl` (`kind`, `expect`, `old`, `new`) is written in two
separate `remember` calls, in a project scope of its own, on a real store with the real
embedder. What happened to the second fact is counted:

- absorbed: it reinforced the first (a duplicate; its text survives only as a variant);
- superseded: it replaced the first as the current version;
- linked: both stay current (linked `related_to` when similar enough).

Kinds whose values differ (number, version, region, date, path, negation, person, qualifier,
both_hold) must never be absorbed; `expect` says what the rule should do with each pair.

    python bench/bench_facts.py [--errors]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from habitus.core.config import Settings
from habitus.core.models import CallContext
from habitus.core.service import MemoryService

DATA = Path(__file__).resolve().parent / "data" / "fact_pairs.jsonl"
OUTCOMES = ("absorbed", "superseded", "linked")


async def outcomes(pairs: list[dict[str, str]], db: str) -> list[str]:
    """What became of each pair's second fact."""
    service = await MemoryService.open(Settings(db=db, embedder="minilm"))
    out = []
    try:
        for i, pair in enumerate(pairs):
            ctx = CallContext(project_scope=f"repo:example.com/pairs/p{i}", client="bench")
            first = await service.remember(pair["old"], ctx=ctx)
            second = await service.remember(pair["new"], ctx=ctx)
            if second.absorbed_by or second.id == first.id:
                out.append("absorbed")
            elif first.id in second.supersedes:
                out.append("superseded")
            else:
                out.append("linked")
    finally:
        await service.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--errors", action="store_true", help="print pairs not as expected")
    args = parser.parse_args()
    pairs = [json.loads(line) for line in args.data.read_text("utf-8").splitlines() if line]
    with tempfile.TemporaryDirectory() as tmp:
        got = asyncio.run(outcomes(pairs, str(Path(tmp) / "store")))
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    right: Counter[str] = Counter()
    for pair, outcome in zip(pairs, got, strict=True):
        by_kind[pair["kind"]][outcome] += 1
        right[pair["kind"]] += outcome == pair["expect"]
    print(f"{args.data.name}: {len(pairs)} pairs, each written in two remember calls")
    print(f"{'kind':12} {'n':>4} {'expected':>11} " + " ".join(f"{o:>11}" for o in OUTCOMES)
          + f" {'as expected':>12}")
    for kind, counts in by_kind.items():
        n = sum(counts.values())
        expect = next(p["expect"] for p in pairs if p["kind"] == kind)
        print(f"{kind:12} {n:>4} {expect:>11} " + " ".join(f"{counts[o]:>11}" for o in OUTCOMES)
              + f" {right[kind]:>8}/{n}")
    wrongly = sum(o == "absorbed" for p, o in zip(pairs, got, strict=True)
                  if p["kind"] != "paraphrase")
    print(f"value-differing pairs absorbed: {wrongly}")
    if args.errors:
        for pair, outcome in zip(pairs, got, strict=True):
            if outcome != pair["expect"]:
                print(f"  [{pair['kind']}] {outcome} (expected {pair['expect']}): "
                      f"{pair['old']!r} -> {pair['new']!r}")


if __name__ == "__main__":
    main()
