"""The procedural-memory evaluation on ALFWorld trajectories (`habitus eval procedures`).

Every trajectory is distilled into a procedure that keeps the id of the trajectory it came from;
the procedures are stored with `MemoryService.remember_many` and found with `recall(kinds=
["procedural"])`, the same calls the server makes (with the same plugins), then:

- **queries** (`queries.json`): each natural-language task query ranks trajectories by the
  procedures recalled (a procedure distilled from several identical trajectories ranks them all
  at its place). P@1 and MAP count the judged-relevant trajectories (relevance ≥ 6); NDCG@10
  uses the judged relevance (0–10) as gain. MAP is reported two ways: over every judged-relevant
  trajectory (the strict one), and as the published procedural-memory benchmark computes it —
  average precision over the top 10, averaged over the relevant trajectories found there.
- **leave-one-out**: each trajectory's task description is the query against the procedures of
  all the others; a hit is a top procedure (from another trajectory) with the same task type
  and the same target object. The query's own trajectory is dropped from the ranking, so a
  procedure distilled from it alone never counts; one merged from several identical
  trajectories still stands for the others (it is their procedure too).
- **baselines**: the same queries ranked by the embedder alone (cosine) over each trajectory's
  task description, and over its task, states and actions as the published benchmark's
  baseline embeds them: the plain dense retrieval that procedures are compared with.
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

from habitus.base.errors import InvalidInput
from habitus.core.models import CallContext, RecallResult
from habitus.plugins.procedural.alfworld import parse_goal
from habitus.plugins.procedural.distill import distill
from habitus.plugins.procedural.memory import MemoryOps, store_procedures
from habitus.plugins.procedural.readers import read_alfworld

__all__ = ["RELEVANT", "evaluate_procedures", "ranked_trajectories", "format_report"]

RELEVANT = 6.0
SCOPE = "habitus-eval-alfworld"
DEPTH = 100
TOP = 10


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


def _average_precision_at_top(ranked: Sequence[str], relevant: set[str], k: int = TOP) -> float:
    """Average precision over the top k, averaged over the relevant ones found there: the
    published benchmark's definition, which judges only what was retrieved."""
    found, precisions = 0, []
    for i, ident in enumerate(ranked[:k], 1):
        if ident in relevant:
            found += 1
            precisions.append(found / i)
    return statistics.fmean(precisions) if precisions else 0.0


def _ndcg(ranked: Sequence[str], gains: dict[str, float], k: int = TOP) -> float:
    dcg = sum(gains.get(t, 0.0) / math.log2(i + 2) for i, t in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def _scores(ranked: Sequence[str], relevant: set[str], gains: dict[str, float]) -> dict[str, float]:
    return {
        "p_at_1": float(bool(ranked) and ranked[0] in relevant),
        "ap": _average_precision(ranked, relevant),
        "ap_at_10": _average_precision_at_top(ranked, relevant),
        "ndcg_at_10": _ndcg(ranked, gains),
    }


_MEANS = {"p_at_1": "p_at_1", "map": "ap", "map_at_10": "ap_at_10", "ndcg_at_10": "ndcg_at_10"}


def _means(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    return {name: statistics.fmean(r[key] for r in rows) if rows else 0.0
            for name, key in _MEANS.items()}


def _raw_trajectories(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text("utf-8"))
    items = data.get("trajectories") if isinstance(data, dict) else data
    return [item for item in items or [] if isinstance(item, dict)]


def _published_text(item: dict[str, Any] | None, task: str) -> str:
    """A trajectory as the published benchmark's dense baseline embeds it."""
    lines = [f"Task: {task}", "Steps:"]
    for i, pair in enumerate((item or {}).get("state_action_pairs") or [], 1):
        if isinstance(pair, dict):
            lines.append(f"{i}. State: {pair.get('state', '')} -> Action: {pair.get('action', '')}")
    return "\n".join(lines)


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

    per_query, judged = [], []
    for q in queries:
        gains = {r["trajectory_id"]: float(r["relevance_score"])
                 for r in q["relevant_trajectories"] if r["trajectory_id"] in known}
        relevant = {t for t, g in gains.items() if g >= RELEVANT}
        judged.append((gains, relevant))
        found = await ops.recall(q["query_text"], kinds=["procedural"], limit=DEPTH, ctx=ctx)
        per_query.append({
            "id": q["query_id"], "query": q["query_text"], "relevant": len(relevant),
            **_scores(ranked_trajectories(found), relevant, gains),
            "top": found.memories[0].content.split("\n", 1)[0] if found.memories else None,
        })

    report: dict[str, Any] = {
        "trajectories": len(trajectories),
        "procedures": len({r.id for r in stored}),
        "queries": len(per_query),
        **_means(per_query),
        "per_query": per_query,
    }
    raw = {item["task_instance_id"]: item for item in _raw_trajectories(trajectories_file)}
    baselines = {
        "task description": [t.task for t in trajectories],
        "task, states and actions": [_published_text(raw.get(t.id), t.task) for t in trajectories],
    }
    query_vectors = await ops.embed([q["query_text"] for q in queries])
    for name, texts in baselines.items():
        vectors = await ops.embed(texts)
        if vectors is None or query_vectors is None:
            break
        rows = []
        for (gains, relevant), query_vector in zip(judged, query_vectors, strict=True):
            order = np.argsort(-(vectors @ query_vector), kind="stable")
            rows.append(_scores([trajectories[j].id for j in order], relevant, gains))
        report.setdefault("baselines", {})[name] = _means(rows)

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


def _figures(f: dict[str, Any]) -> str:
    return (f"P@1 {f['p_at_1']:.3f}   MAP {f['map']:.3f}   "
            f"MAP@10 (benchmark) {f['map_at_10']:.3f}   NDCG@10 {f['ndcg_at_10']:.3f}")


def format_report(report: dict[str, Any]) -> str:
    """The figures for a person."""
    lines = [
        f"{report['trajectories']} trajectories → {report['procedures']} procedures; "
        f"{report['queries']} queries",
        f"procedures: {_figures(report)}",
    ]
    for q in report["per_query"]:
        lines.append(f"  {q['id']:<10} P@1 {q['p_at_1']:.0f}  AP {q['ap']:.3f}  "
                     f"AP@10 {q['ap_at_10']:.3f}  NDCG@10 {q['ndcg_at_10']:.3f}  "
                     f"{q['query']!r} → {q['top']}")
    for name, figures in report.get("baselines", {}).items():
        lines.append(f"embedder alone over {name}: {_figures(figures)}")
    loo = report.get("leave_one_out")
    if loo:
        lines.append(f"leave-one-out P@1 (same task type and object): {loo['p_at_1']:.3f} "
                     f"over {loo['queries']} trajectories")
    s = report["steps"]
    lines.append(f"steps per trajectory: {s['original_mean']:.1f} → {s['kept_mean']:.1f} kept "
                 f"(median {s['kept_median']:.0f}, {s['kept_share']:.0%})")
    lines.append(f"time: {report['seconds']['total']:.1f} s")
    return "\n".join(lines)
