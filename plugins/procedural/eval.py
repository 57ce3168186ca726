"""The procedural-memory evaluation on ALFWorld trajectories (`habitus eval procedures`).

Every trajectory is distilled into a procedure that keeps the id of the trajectory it came from;
the procedures are stored with `MemoryService.remember_many` and found with `recall(kinds=
["procedural"])`, the same calls the server makes (with the same plugins), then:

- **queries** (`queries.json`): each natural-language task query ranks trajectories by the
  procedures recalled (a procedure distilled from several identical trajectories ranks them all
  at its place). P@1 and MAP count the judged-relevant trajectories (relevance ≥ 6); NDCG@10
  uses the judged relevance (0–10) as gain.
- **leave-one-out**: each trajectory's task description is the query against the procedures of
  all the others; a hit is a top procedure (from another trajectory) with the same task type
  and the same target object. The query's own trajectory is dropped from the ranking, so a
  procedure distilled from it alone never counts; one merged from several identical
  trajectories still stands for the others (it is their procedure too).
- **baseline**: the same queries against the trajectories' task descriptions ranked by the
  embedder alone (cosine), the plain dense retrieval that procedures are compared with.
- **steps**: how many steps distillation keeps per trajectory.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from habitus.core.errors import InvalidInput
from habitus.core.models import CallContext, RecallResult
from habitus.plugins.procedural.alfworld import parse_goal
from habitus.plugins.procedural.distill import distill
from habitus.plugins.procedural.memory import MemoryOps, store_procedures
from habitus.plugins.procedural.readers import read_alfworld

__all__ = ["RELEVANT", "evaluate_procedures", "ranked_trajectories", "format_report"]

RELEVANT = 6.0
SCOPE = "habitus-eval-alfworld"
DEPTH = 100


def ranked_trajectories(result: RecallResult, exclude: str | None = None) -> list[str]:
    """Trajectory ids in the order of the procedures recalled, each once."""
    ranked: list[str] = []
    for hit in result.memories:
        sources = (hit.metadata.get("procedure") or {}).get("source_ids") or []
        for source in sources:
            if source != exclude and source not in ranked:
                ranked.append(source)
    return ranked


def _average_precision(ranked: Sequence[str], relevant: set[str]) -> float:
    found, total = 0, 0.0
    for i, ident in enumerate(ranked, 1):
        if ident in relevant:
            found += 1
            total += found / i
    return total / len(relevant) if relevant else 0.0


def _ndcg(ranked: Sequence[str], gains: dict[str, float], k: int = 10) -> float:
    dcg = sum(gains.get(t, 0.0) / math.log2(i + 2) for i, t in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def _scores(ranked: Sequence[str], relevant: set[str], gains: dict[str, float]) -> dict[str, float]:
    return {
        "p_at_1": float(bool(ranked) and ranked[0] in relevant),
        "ap": _average_precision(ranked, relevant),
        "ndcg_at_10": _ndcg(ranked, gains),
    }


def _load(data: Path) -> tuple[Path, Path]:
    folder = data / "alfworld" if (data / "alfworld").is_dir() else data
    trajectories, queries = folder / "trajectories.json", folder / "queries.json"
    for needed in (trajectories, queries):
        if not needed.is_file():
            raise InvalidInput(
                f"{needed} not found: --data must be the ALFWorld folder (trajectories.json and "
                "queries.json) or the data folder that contains it"
            )
    return trajectories, queries


async def evaluate_procedures(
    ops: MemoryOps, data: str | Path, *, leave_one_out: bool = True, limit: int | None = None,
    scope: str = SCOPE,
) -> dict[str, Any]:
    """Run the evaluation on a fresh store behind `ops`; returns the figures as a dict."""
    started = time.perf_counter()
    trajectories_file, queries_file = _load(Path(data))
    trajectories = read_alfworld(trajectories_file)
    if limit:
        trajectories = trajectories[:limit]
    queries = json.loads(queries_file.read_text("utf-8"))["queries"]
    ctx = CallContext(project_scope=scope, client="eval", tool="eval")
    procedures = [distill(t) for t in trajectories]
    stored = await store_procedures(ops, procedures, ctx=ctx)
    distill_seconds = time.perf_counter() - started
    known = {t.id for t in trajectories}

    per_query, baseline = [], []
    task_vectors = await ops.embed([t.task for t in trajectories])
    query_vectors = await ops.embed([q["query_text"] for q in queries])
    for i, q in enumerate(queries):
        gains = {r["trajectory_id"]: float(r["relevance_score"])
                 for r in q["relevant_trajectories"] if r["trajectory_id"] in known}
        relevant = {t for t, g in gains.items() if g >= RELEVANT}
        found = await ops.recall(q["query_text"], kinds=["procedural"], limit=DEPTH, ctx=ctx)
        ranked = ranked_trajectories(found)
        per_query.append({
            "id": q["query_id"], "query": q["query_text"], "relevant": len(relevant),
            **_scores(ranked, relevant, gains),
            "top": found.memories[0].content.split("\n", 1)[0] if found.memories else None,
        })
        if task_vectors is not None and query_vectors is not None:
            order = np.argsort(-(task_vectors @ query_vectors[i]), kind="stable")
            baseline.append(_scores([trajectories[j].id for j in order], relevant, gains))

    report: dict[str, Any] = {
        "trajectories": len(trajectories),
        "procedures": len({r.id for r in stored}),
        "queries": len(per_query),
        "p_at_1": statistics.fmean(q["p_at_1"] for q in per_query) if per_query else 0.0,
        "map": statistics.fmean(q["ap"] for q in per_query) if per_query else 0.0,
        "ndcg_at_10": statistics.fmean(q["ndcg_at_10"] for q in per_query) if per_query else 0.0,
        "per_query": per_query,
    }
    if baseline:
        report["baseline"] = {
            "name": "embedder alone over task descriptions",
            **{k: statistics.fmean(b[k] for b in baseline) for k in ("p_at_1", "ap", "ndcg_at_10")},
        }

    if leave_one_out:
        by_id = {t.id: t for t in trajectories}
        hits, misses = 0, []
        for t in trajectories:
            goal = parse_goal(t.task)
            found = await ops.recall(t.task, kinds=["procedural"], limit=10, ctx=ctx)
            ranked = ranked_trajectories(found, exclude=t.id)
            other = parse_goal(by_id[ranked[0]].task) if ranked else None
            ok = (goal is not None and other is not None
                  and (goal.task_type, goal.obj) == (other.task_type, other.obj))
            hits += ok
            if not ok:
                misses.append({"id": t.id, "task": t.task,
                               "top": by_id[ranked[0]].task if ranked else None})
        report["leave_one_out"] = {
            "queries": len(trajectories),
            "p_at_1": hits / len(trajectories) if trajectories else 0.0,
            "misses": misses,
        }

    kept = [len(p.steps) for p in procedures]
    original = [len(t.steps) for t in trajectories]
    report["steps"] = {
        "original_mean": statistics.fmean(original) if original else 0.0,
        "kept_mean": statistics.fmean(kept) if kept else 0.0,
        "kept_median": statistics.median(kept) if kept else 0.0,
        "kept_share": sum(kept) / sum(original) if sum(original) else 0.0,
    }
    report["seconds"] = {"store": round(distill_seconds, 2),
                         "total": round(time.perf_counter() - started, 2)}
    return report


def format_report(report: dict[str, Any]) -> str:
    """The figures for a person."""
    lines = [
        f"{report['trajectories']} trajectories → {report['procedures']} procedures; "
        f"{report['queries']} queries",
        f"P@1 {report['p_at_1']:.3f}   MAP {report['map']:.3f}   "
        f"NDCG@10 {report['ndcg_at_10']:.3f}",
    ]
    for q in report["per_query"]:
        lines.append(f"  {q['id']:<10} P@1 {q['p_at_1']:.0f}  AP {q['ap']:.3f}  "
                     f"NDCG@10 {q['ndcg_at_10']:.3f}  {q['query']!r} → {q['top']}")
    base = report.get("baseline")
    if base:
        lines.append(f"baseline ({base['name']}): P@1 {base['p_at_1']:.3f}   "
                     f"MAP {base['ap']:.3f}   NDCG@10 {base['ndcg_at_10']:.3f}")
    loo = report.get("leave_one_out")
    if loo:
        lines.append(f"leave-one-out P@1 (same task type and object): {loo['p_at_1']:.3f} "
                     f"over {loo['queries']} trajectories")
    s = report["steps"]
    lines.append(f"steps per trajectory: {s['original_mean']:.1f} → {s['kept_mean']:.1f} kept "
                 f"(median {s['kept_median']:.0f}, {s['kept_share']:.0%})")
    lines.append(f"time: {report['seconds']['total']:.1f} s")
    return "\n".join(lines)
