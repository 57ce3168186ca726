"""Memory strength: a forgetting curve (MemoryBank) over time since last use.

    strength = exp(-days_since_last_use / stability)
    stability = BASE_DAYS × (0.5 + importance) × (1 + REINFORCE × uses)

A memory is "used" when it is stored, reinforced (the same fact written again) or returned by
`recall`; each use resets the clock (`last_access` / `updated_at`) and raises the stability, so
memories that keep being useful fade more and more slowly, and `forget --decayed` archives
(soft-deletes) current memories whose strength fell below a threshold, after a preview.

Ranking multiplies its score by `rank_factor` (a gentle 0.8–1.0), from the memory as written —
stored, reinforced, its importance — and not from recalls: a recall must not change the answer
to the next one, so the same store and query give the same results.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

__all__ = ["strength", "stability_days", "rank_factor", "DECAYED_BELOW", "BASE_DAYS"]

# Days for strength to fall to 1/e for a memory of importance 0.5 that was never recalled.
BASE_DAYS = 30.0
# Each use adds this fraction of the base stability.
REINFORCE = 0.5
# `forget --decayed` archives current memories weaker than this (≈ 69 days unused at importance
# 0.5 and no recall; a memory recalled 4 times lasts three times longer).
DECAYED_BELOW = 0.1
# How much strength can move a ranking: the weakest memory keeps 80% of its score.
RANK_WEIGHT = 0.2


def stability_days(row: dict[str, Any]) -> float:
    importance = float(row.get("importance") if row.get("importance") is not None else 0.5)
    uses = max(0, int(row.get("access_count") or 0))
    return BASE_DAYS * (0.5 + importance) * (1.0 + REINFORCE * uses)


def last_use(row: dict[str, Any]) -> datetime:
    """When the memory was last stored, reinforced or recalled."""
    times = [t for t in (row.get("last_access"), row.get("updated_at"), row.get("created_at")) if t]
    return max(times)


def strength(row: dict[str, Any], now: datetime) -> float:
    """Retention in (0, 1]: 1 just after use, decaying exponentially with disuse."""
    days = max(0.0, (now - last_use(row)).total_seconds() / 86400.0)
    return math.exp(-days / stability_days(row))


def rank_factor(row: dict[str, Any], now: datetime) -> float:
    """The multiplier ranking applies: memories written or reinforced lately keep their score,
    ones long untouched lose up to 20% (recalls leave it unchanged)."""
    try:
        written = max(t for t in (row.get("updated_at"), row.get("created_at")) if t)
        days = max(0.0, (now - written).total_seconds() / 86400.0)
        importance = float(row["importance"] if row.get("importance") is not None else 0.5)
        kept = math.exp(-days / (BASE_DAYS * (0.5 + importance)))
        return 1.0 - RANK_WEIGHT + RANK_WEIGHT * kept
    except (KeyError, TypeError, ValueError):
        return 1.0
