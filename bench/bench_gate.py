"""The prompt gate: which recalled memories UserPromptSubmit shows, old gate beside new.

Every prompt is recalled once (`recall`, limit 8, as the hook asks) and each gate then decides
what it would show, in a fresh session:

1. LoCoMo: every question of a conversation asked over a store holding that conversation's
   turns — how often what is shown holds an evidence turn — and the questions of the next
   conversation asked of the same store, where nothing should be shown (control). The first
   pair (conversations 1 and 2) is the one the gate was tuned on; the other pairs are held out.
2. Coding: `bench/data/coding_prompts.json` (the tuning set), `coding_prompts_heldout.json`
   (written after the gate's constants were set; one change followed its first run) and
   `coding_prompts_heldout2.json` (written after that change, never tuned on): memories of
   several projects stored in one project scope, prompts labelled with the memories they should
   bring up (hit: one of them is shown), control prompts that should bring up nothing. "on
   label" is the share of shown memories that are labelled for the prompt.
3. The gate's own cost per prompt (after recall, which every gate shares), p50 / p95.

    python bench/bench_gate.py [--locomo ../shared/data/locomo/locomo10.json]
        [--pairs 0:1,2:3,4:5,6:7,8:9] [--frontier]

"old" is the gate before this one (cosine ≥ 0.45, up to 3 memories); "new" is
`lifecycle.context.PROMPT_GATE`; --frontier adds the new gate at other bars and limits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio

from habitus.core.config import Settings
from habitus.core.models import CallContext, RecallHit
from habitus.core.project.scope import validate_scope
from habitus.core.service import MemoryService
from habitus.core.text.tokens import count_tokens
from habitus.evaluation.locomo import ingest, load_locomo
from habitus.lifecycle.context import PROMPT_GATE, Gate, prompt_context
from habitus.lifecycle.sessions import SessionState

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
CODING_SCOPE = "bench-coding"
RECALL_LIMIT = 8  # what the UserPromptSubmit hook asks recall for

OLD_GATE = Gate(bar=0.45, floor=0.45, words=0.0, near=0.0, lead=RECALL_LIMIT, limit=3)


def gates(frontier: bool) -> dict[str, Gate]:
    """The gates compared: old and new, and with `frontier` the new one at other settings."""
    chosen = {"old: cosine >= 0.45": OLD_GATE, "new": PROMPT_GATE}
    if frontier:
        for bar in (0.5, 0.55, 0.6, 0.65, 0.7):
            chosen[f"new, bar {bar}"] = replace(PROMPT_GATE, bar=bar)
        chosen["new, limit 3"] = replace(PROMPT_GATE, limit=3)
        chosen["new, floor 0.45"] = replace(PROMPT_GATE, floor=0.45)
        chosen["new, near 0.6"] = replace(PROMPT_GATE, near=0.6)
        chosen["new, words 1.0"] = replace(PROMPT_GATE, words=1.0)
        chosen["new, one word agrees"] = replace(PROMPT_GATE, min_matched=1)
        chosen["new, words 0 (cosine only)"] = replace(PROMPT_GATE, words=0.0)
    return chosen


@dataclass
class Tally:
    """What one gate showed over one set of prompts."""

    prompts: int = 0
    hit: int = 0
    controls: int = 0
    control_shown: int = 0
    memories: int = 0
    labelled: int = 0
    tokens: int = 0
    gate_ms: list[float] = field(default_factory=list)

    def row(self) -> str:
        n, c = max(self.prompts, 1), max(self.controls, 1)
        label = f"{100 * self.labelled / self.memories:.0f}%" if self.memories else "-"
        return (f"{100 * self.hit / n:>8.1f}%{100 * self.control_shown / c:>10.1f}%"
                f"{self.memories / n:>10.2f}{label:>10}{self.tokens / n:>9.0f}")

    def add(self, other: Tally) -> None:
        for name in ("prompts", "hit", "controls", "control_shown", "memories", "labelled",
                     "tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.gate_ms += other.gate_ms


HEADER = (f"{'':<34}{'hit':>9}{'control':>11}{'mem/hit':>10}{'on label':>10}"
          f"{'tokens':>9}")


async def judge(
    service: MemoryService, ctx: CallContext, prompts: list[tuple[str, set[str] | None]],
    chosen: dict[str, Gate], truth: dict[str, set[str]],
) -> tuple[dict[str, Tally], list[float]]:
    """Recall each prompt once and let every gate decide; `None` labels mark control prompts;
    `truth` gives the labels each stored memory answers to (turn ids, memory names)."""
    tallies = {name: Tally() for name in chosen}
    recall_ms: list[float] = []
    for i, (text, labels) in enumerate(prompts):
        started = time.perf_counter()
        result = await service.recall(text, limit=RECALL_LIMIT, ctx=ctx)
        recall_ms.append(1000 * (time.perf_counter() - started))
        hits: list[RecallHit] = result.memories
        order = list(chosen.items())
        turn = i % len(order)  # each gate goes first in turn: the first pays for cold caches
        for name, gate in order[turn:] + order[:turn]:
            state = SessionState(f"p{i}", scope=ctx.project_scope)
            started = time.perf_counter()
            shown = await prompt_context(hits, service.encoder, state, text, gate=gate)
            tally = tallies[name]
            tally.gate_ms.append(1000 * (time.perf_counter() - started))
            if labels is None:
                tally.controls += 1
                tally.control_shown += bool(shown.ids)
                continue
            good = [m for m in shown.ids if truth.get(m, set()) & labels]
            tally.prompts += 1
            tally.hit += bool(good)
            tally.memories += len(shown.ids)
            tally.labelled += len(good)
            tally.tokens += count_tokens(shown.text) if shown.text else 0
    return tallies, recall_ms


async def locomo(path: Path, pairs: list[tuple[int, int]], chosen: dict[str, Gate]
                 ) -> list[tuple[str, dict[str, Tally], list[float]]]:
    """Each (conversation, control conversation) pair over a store of the first one's turns."""
    every = load_locomo(path)
    out = []
    for own, other in pairs:
        conv, control = every[own], every[other]
        with tempfile.TemporaryDirectory() as tmp:
            service = await MemoryService.open(Settings(db=str(Path(tmp) / "store")))
            try:
                turns = (await ingest(service, [conv]))[conv.scope]
                ctx = CallContext(project_scope=validate_scope(conv.scope), client="bench",
                                  source="hook")
                prompts: list[tuple[str, set[str] | None]] = [
                    (q.text, set(q.evidence)) for q in conv.questions]
                prompts += [(q.text, None) for q in control.questions]
                tallies, recall_ms = await judge(service, ctx, prompts, chosen, turns)
            finally:
                await service.close()
        out.append((f"conversation {own + 1} (control {other + 1})", tallies, recall_ms))
    return out


def load_set(path: Path) -> dict[str, Any]:
    """A coding relevance set: `memories`, `prompts` (text, expect) and `control` prompts;
    a held-out file may add memories of its own."""
    data = json.loads(path.read_text("utf-8"))
    for prompt in data["prompts"]:
        if not prompt["expect"]:
            raise SystemExit(f"{path}: a prompt without labels: {prompt['text']!r}")
    return {"memories": data.get("memories", []), "prompts": data["prompts"],
            "control": data["control"]}


async def coding(sets: list[Path], chosen: dict[str, Gate]
                 ) -> list[tuple[str, dict[str, Tally], list[float]]]:
    """Each coding set over a store of the tuning set's memories (and the set's own)."""
    base = load_set(sets[0])
    out = []
    for path in sets:
        data = load_set(path)
        memories = base["memories"] + (data["memories"] if path != sets[0] else [])
        wanted = {e for p in data["prompts"] for e in p["expect"]}
        missing = wanted - {m["id"] for m in memories}
        if missing:
            raise SystemExit(f"{path}: labels that name no memory: {sorted(missing)}")
        with tempfile.TemporaryDirectory() as tmp:
            service = await MemoryService.open(Settings(db=str(Path(tmp) / "store")))
            try:
                ctx = CallContext(project_scope=CODING_SCOPE, client="bench", source="hook")
                names: dict[str, set[str]] = {}
                for memory in memories:  # one write each, as a hook or an assistant makes them
                    result = await service.remember(
                        memory["content"], kind=memory.get("kind", "semantic"),
                        tags=memory.get("tags", []), ctx=ctx)
                    if result.status != "created" or result.supersedes:
                        raise SystemExit(f"{path}: {memory['id']} was not stored as a memory "
                                         f"of its own ({result.status}, supersedes "
                                         f"{result.supersedes})")
                    names[result.id] = {memory["id"]}
                prompts: list[tuple[str, set[str] | None]] = [
                    (p["text"], set(p["expect"])) for p in data["prompts"]]
                prompts += [(text, None) for text in data["control"]]
                tallies, recall_ms = await judge(service, ctx, prompts, chosen, names)
            finally:
                await service.close()
        out.append((f"{path.name} ({len(data['prompts'])}+{len(data['control'])})", tallies,
                    recall_ms))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def print_section(title: str, results: list[tuple[str, dict[str, Tally], list[float]]],
                  held_out_from: int | None = None) -> None:
    """Per set, each gate's row; sets from `held_out_from` on are also summed as held out."""
    print(f"\n{title}\n{HEADER}")
    for label, tallies, _ in results:
        print(label)
        for name, tally in tallies.items():
            print(f"  {name:<32}{tally.row()}")
    held = results[held_out_from:] if held_out_from is not None else []
    if len(held) > 1:
        print("held out, all together")
        for name in held[0][1]:
            total = Tally()
            for _, tallies, _ in held:
                total.add(tallies[name])
            print(f"  {name:<32}{total.row()}")


def report(locomo_path: Path | None, pairs: list[tuple[int, int]], frontier: bool) -> None:
    """Run every part and print the tables (LoCoMo only when its file is there)."""
    chosen = gates(frontier)
    results = []
    if locomo_path is not None and locomo_path.is_file():
        found = anyio.run(locomo, locomo_path, pairs, chosen)
        print_section("LoCoMo: evidence turn shown (hit) / control conversation's question "
                      "shown anything", found, 1)
        results += found
    else:
        print(f"(no LoCoMo file at {locomo_path}: LoCoMo part skipped; pass --locomo)",
              file=sys.stderr)
    sets = [DATA / name for name in ("coding_prompts.json", "coding_prompts_heldout.json",
                                     "coding_prompts_heldout2.json")]
    found = anyio.run(coding, [s for s in sets if s.is_file()], chosen)
    print_section("Coding: a labelled memory shown (hit) / control prompt shown anything", found)
    results += found
    recall_ms = [t for _, _, times in results for t in times]
    print(f"\nper prompt, ms: recall p50 {pct(recall_ms, 0.5):.1f} p95 {pct(recall_ms, 0.95):.1f}"
          f" (shared by every gate); the gate after it:")
    for name in chosen:
        times = [t for _, tallies, _ in results for t in tallies[name].gate_ms]
        print(f"  {name:<32}p50 {pct(times, 0.5):.2f}  p95 {pct(times, 0.95):.2f}  "
              f"mean {statistics.fmean(times):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locomo", type=Path,
                        default=ROOT.parent / "shared/data/locomo/locomo10.json")
    parser.add_argument("--pairs", default="0:1,2:3,4:5,6:7,8:9",
                        help="conversation:control pairs (0-based); the first is the tuning pair")
    parser.add_argument("--frontier", action="store_true",
                        help="also the new gate at other bars and limits")
    args = parser.parse_args()
    pairs = [(int(a), int(b)) for a, b in (p.split(":") for p in args.pairs.split(","))]
    report(args.locomo, pairs, args.frontier)


if __name__ == "__main__":
    main()
