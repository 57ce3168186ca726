"""The LongMemEval recall benchmark: turn- and session-level retrieval through `recall`.

LongMemEval (Wu et al., ICLR 2025) asks each question over its own haystack of chat sessions.
The file read here is in LoCoMo's format (one sample per question, `dia_id` `D<session>:<turn>`,
evidence = the turns holding the answer) with LongMemEval's own keys kept: `question_date`,
`answer_sessions`, `question_type`. Each haystack is written like a LoCoMo conversation (one
scope per question, one `remember_many` per session, each turn dated by its session), then the
question is asked through `MemoryService.recall` — at its own date (`now`), unless told
otherwise — and beside it a plain BM25 over the same turns (`bm25_ranking`), in the same run.

Metrics per question, averaged overall and per question type:
- turn@k: evidence turns in the top k turns / evidence turns;
- any@k, all@k: among the first k distinct sessions of the ranked turns, a gold session
  (recall_any@k, what memory projects publish) or every gold session (recall_all@k, the
  paper's Recall@k).
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from habitus.base.errors import InvalidInput
from habitus.core.text.words import stem, words
from habitus.evaluation.locomo import (
    Conversation,
    Question,
    conversations_of,
    ingest,
    mean_scores,
    percentile,
    read_samples,
)
from habitus.evaluation.locomo import load_mapping as _load
from habitus.evaluation.locomo import save_mapping as _save

__all__ = [
    "TYPES",
    "LEGS",
    "RUNS",
    "load_longmemeval",
    "bm25_ranking",
    "score_ranking",
    "evaluate",
    "format_report",
    "save_mapping",
    "load_mapping",
]

#: Question types by category id, as the converted file numbers them.
TYPES = {
    11: "single-session-user",
    12: "single-session-assistant",
    13: "single-session-preference",
    14: "multi-session",
    15: "knowledge-update",
    16: "temporal-reasoning",
}
KS = (5, 10)
#: Turns asked of each ranking: enough for ten distinct sessions.
DEPTH = 50
#: habitus's configurations: name → legs passed to `recall` (None: the full ranking).
LEGS: dict[str, tuple[str, ...] | None] = {
    "full": None,
    "lexical": ("lexical",),
    "vector": ("vector",),
}
#: The baseline: BM25 over the turns' text, outside habitus.
BASELINE = "bm25"
RUNS = (*LEGS, BASELINE)
MAPPING_FILE = "longmemeval-turns.json"
_HINT = ("take longmemeval_s_dev50.json.gz from the evaluation data (LongMemEval_S converted to "
         "LoCoMo's format)")


def load_longmemeval(path: str | Path) -> list[Conversation]:
    """Read a LongMemEval file in LoCoMo's format (JSON or .json.gz): one conversation per
    question, with the question's date and gold sessions."""
    convs = conversations_of(read_samples(path, "LongMemEval", _HINT), prefix="lme")
    for conv in convs:
        if len(conv.questions) != 1:
            raise InvalidInput(
                f"sample {conv.sample_id} has {len(conv.questions)} questions with evidence; "
                "a LongMemEval haystack holds one"
            )
        [q] = conv.questions
        if q.asked_at is None:
            raise InvalidInput(f"question {conv.sample_id} has no readable question_date")
        if not q.sessions:  # the sessions of its evidence, when the file names none
            q.sessions = sorted({_session(e) for e in q.evidence})
    return convs


def _session(dia_id: str) -> int:
    return int(dia_id[1:].split(":", 1)[0])


def _terms(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


def bm25_ranking(
    conv: Conversation, query: str, depth: int = DEPTH, k1: float = 1.2, b: float = 0.75
) -> list[set[str]]:
    """Okapi BM25 over the conversation's turns (their text alone, stop words out, Snowball
    stems): the baseline, computed apart from any index. Best `depth` turns, as id sets."""
    docs = [Counter(_terms(t.text)) for t in conv.turns]
    lengths = [sum(d.values()) for d in docs]
    avg = statistics.fmean(lengths) if lengths else 0.0
    wanted = set(_terms(query))
    n = len(docs)
    idf = {}
    for term in wanted:
        df = sum(1 for d in docs if term in d)
        idf[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
    scores = []
    for i, (doc, length) in enumerate(zip(docs, lengths, strict=True)):
        score = 0.0
        for term in wanted:
            tf = doc.get(term, 0)
            if tf:
                score += idf[term] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg))
        if score > 0:
            scores.append((score, i))
    scores.sort(key=lambda s: (-s[0], s[1]))
    return [{conv.turns[i].dia_id} for _, i in scores[:depth]]


def score_ranking(
    ranked: list[set[str]], question: Question, ks: Sequence[int] = KS
) -> dict[str, float]:
    """Turn-level recall@k and session-level any@k / all@k of one ranking (per hit, the turn
    ids that memory stands for)."""
    wanted = set(question.evidence)
    gold = set(question.sessions)
    sessions: list[int] = []
    for ids in ranked:
        for s in sorted({_session(i) for i in ids}):
            if s not in sessions:
                sessions.append(s)
    scores: dict[str, float] = {}
    for k in ks:
        found = set().union(*ranked[:k]) & wanted if ranked[:k] else set()
        scores[f"turn@{k}"] = len(found) / len(wanted)
    for k in ks:
        first = set(sessions[:k])
        scores[f"any@{k}"] = float(bool(first & gold))
        scores[f"all@{k}"] = float(gold <= first)
    return scores


def save_mapping(folder: str | Path, mapping: dict[str, dict[str, set[str]]]) -> None:
    """Keep, beside a benchmark store, which memory stands for which turns (to reuse it)."""
    _save(folder, mapping, MAPPING_FILE)


def load_mapping(folder: str | Path) -> dict[str, dict[str, set[str]]] | None:
    """The mapping `save_mapping` kept in `folder`, or None when there is none."""
    return _load(folder, MAPPING_FILE)


async def ingest_all(
    service: Any, convs: Sequence[Conversation],
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, dict[str, set[str]]]:
    """Write every haystack (`locomo.ingest`, one conversation at a time, reporting progress:
    conversations done, turns done, seconds)."""
    mapping: dict[str, dict[str, set[str]]] = {}
    started, turns = time.perf_counter(), 0
    for done, conv in enumerate(convs, 1):
        mapping.update(await ingest(service, [conv]))
        turns += len(conv.turns)
        if progress:
            progress(done, turns, time.perf_counter() - started)
    return mapping


async def evaluate(
    service: Any,
    convs: Sequence[Conversation],
    *,
    runs: Sequence[str] = ("full", BASELINE),
    mapping: dict[str, dict[str, set[str]]] | None = None,
    ks: Sequence[int] = KS,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
    ingest_progress: Callable[[int, int, float], None] | None = None,
    ingested: Callable[[dict[str, dict[str, set[str]]]], None] | None = None,
    dated: bool = True,
) -> dict[str, Any]:
    """Ingest (unless `mapping` is given: a store built before; `ingested` is handed the
    mapping of a new one) and ask each question under each run, at its own date (`dated`)
    or at the clock; returns the report `format_report` prints."""
    unknown = [r for r in runs if r not in RUNS]
    if unknown:
        raise InvalidInput(f"unknown run {unknown[0]!r}; use {', '.join(RUNS)}")
    started = time.perf_counter()
    built = mapping is None
    if mapping is None:
        mapping = await ingest_all(service, convs, ingest_progress)
        if ingested:
            ingested(mapping)
    seconds = time.perf_counter() - started
    missing = [c.sample_id for c in convs if c.scope not in mapping]
    if missing:
        raise InvalidInput(f"the store holds no haystack for question {missing[0]}")
    turns = sum(len(c.turns) for c in convs)
    report: dict[str, Any] = {
        "data": {
            "questions": len(convs),
            "turns": turns,
            "memories": sum(len(mapping[c.scope]) for c in convs),
            "ingest_seconds": round(seconds, 1) if built else None,
            "turns_per_second": round(turns / seconds, 1) if built and seconds else None,
            "embedder": service.embedding_model or "none",
            "asked": "at each question's date" if dated else "at the clock",
        },
        "runs": {},
    }
    for name in runs:
        rows: list[tuple[str, dict[str, float]]] = []
        latencies: list[float] = []
        for conv in convs:
            [q] = conv.questions
            if name == BASELINE:
                ranked = bm25_ranking(conv, q.text)
            else:
                ids = mapping[conv.scope]
                t0 = time.perf_counter()
                result = await service.recall(q.text, scope=conv.scope, limit=DEPTH,
                                              legs=LEGS[name], now=q.asked_at if dated else None)
                latencies.append(1000 * (time.perf_counter() - t0))
                ranked = [ids.get(hit.id, set()) for hit in result.memories]
            rows.append((q.kind or TYPES.get(q.category, str(q.category)),
                         score_ranking(ranked, q, ks)))
        types = {
            kind: {"questions": len(chosen), **mean_scores(chosen)}
            for kind in [*TYPES.values(), *sorted({k for k, _ in rows} - set(TYPES.values()))]
            if (chosen := [s for k, s in rows if k == kind])
        }
        report["runs"][name] = {
            "overall": {"questions": len(rows), **mean_scores([s for _, s in rows])},
            "types": types,
            "latency_ms": {"p50": round(percentile(latencies, 0.5), 1),
                           "p95": round(percentile(latencies, 0.95), 1)} if latencies else {},
            "per_question": {c.sample_id: s for c, (_, s) in zip(convs, rows, strict=True)},
        }
        if progress:
            progress(name, report["runs"][name])
    return report


def format_report(report: dict[str, Any], ks: Sequence[int] = KS) -> str:
    """A plain-text table: per run, overall then per question type."""
    data = report["data"]
    ingest_note = (
        f"ingest {data['ingest_seconds']} s ({data['turns_per_second']} turns/s)"
        if data["ingest_seconds"] is not None else "store reused"
    )
    lines = [
        f"LongMemEval: {data['questions']} questions, {data['turns']} turns "
        f"({data['memories']} memories), embedder {data['embedder']}, {ingest_note}, "
        f"asked {data['asked']}",
    ]
    keys = [f"turn@{k}" for k in ks] + [f"{m}@{k}" for k in ks for m in ("any", "all")]
    cols = [f"R@{k}" for k in ks] + [f"{m}@{k}" for k in ks for m in ("any", "all")]
    header = f"{'run':<8} {'type':<26} {'n':>3} " + " ".join(f"{c:>7}" for c in cols)
    lines += ["", header, "-" * len(header)]
    for name, run in report["runs"].items():
        for label, values in [("overall", run["overall"]), *run["types"].items()]:
            lines.append(
                f"{name:<8} {label:<26} {values['questions']:>3} "
                + " ".join(f"{values.get(k, 0.0):>7.1f}" for k in keys)
            )
        if run["latency_ms"]:
            lat = run["latency_ms"]
            lines.append(f"{name:<8} latency p50 {lat['p50']} ms, p95 {lat['p95']} ms")
        lines.append("")
    return "\n".join(lines)
