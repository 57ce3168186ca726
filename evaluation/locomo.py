"""The LoCoMo recall benchmark: turn-level retrieval through the server's own `recall`.

Every turn of each conversation becomes an episodic memory in its own scope
(`locomo-<sample id>`), stamped with its session's date and written with `remember_many`
under a call context whose session is the conversation's session — exactly what a client
writing a conversation turn by turn would send. Every question with evidence is then asked
through `MemoryService.recall`, once per configuration (full ranking and single-leg
ablations), and the evidence turns found in the top k are counted.

Metrics, per question, then averaged overall and per category (ids 1–5 as in the paper):
recall@k = evidence turns in the top k / evidence turns; NDCG@10 with binary gains; MRR of
the first evidence turn in the top `max(ks)`.

Evidence ids are repaired where the data set is malformed (``D8:6; D9:17`` lists,
``D:11:26``, ``D30:05``); ids that name no turn are dropped and reported, and questions left
with no evidence are skipped and counted.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from habitus.base.errors import InvalidInput
from habitus.core.models import BatchMemory, CallContext, NewMemory
from habitus.core.project.scope import validate_scope

__all__ = [
    "CATEGORIES",
    "Conversation",
    "Question",
    "Turn",
    "conversations_of",
    "load_locomo",
    "read_samples",
    "evaluate",
    "format_report",
    "mean_scores",
    "percentile",
]

log = logging.getLogger("habitus.eval")

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
DEFAULT_KS = (1, 5, 10, 25)
#: Configurations run by default: name → legs passed to `recall` (None = the full ranking).
DEFAULT_RUNS: dict[str, tuple[str, ...] | None] = {
    "full": None,
    "lexical": ("lexical",),
    "vector": ("vector",),
}
# Spacing between the timestamps of consecutive turns of one session.
TURN_SPACING = timedelta(seconds=30)

_DIA = re.compile(r"D\s*:?\s*(\d+)\s*:\s*0*(\d+)")
_DATE_FORMATS = (
    "%I:%M %p on %d %B, %Y",
    "%I:%M %p on %d %b, %Y",
    "%I:%M %p on %B %d, %Y",
    "%d %B %Y",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


@dataclass
class Turn:
    dia_id: str
    speaker: str
    text: str
    session: int
    at: datetime | None


@dataclass
class Question:
    text: str
    category: int
    evidence: list[str]
    answer: str = ""
    asked_at: datetime | None = None  # when the question is asked (`question_date`), if given
    sessions: list[int] = field(default_factory=list)  # the sessions holding the answer
    kind: str = ""  # the data set's name for the question's type (`question_type`)


@dataclass
class Conversation:
    sample_id: str
    turns: list[Turn]
    questions: list[Question]
    dropped_evidence: list[str] = field(default_factory=list)
    skipped_questions: int = 0
    prefix: str = "locomo"  # the data set, leading the scope's name

    @property
    def scope(self) -> str:
        slug = re.sub(r"[^a-z0-9._-]+", "-", self.sample_id.lower()).strip("-") or "conv"
        return f"{self.prefix}-{slug}"


def parse_session_date(value: str) -> datetime | None:
    """A LoCoMo session date such as '1:56 pm on 8 May, 2023', as UTC; None if unreadable."""
    text = " ".join(str(value).split())
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def repair_evidence(raw: Sequence[Any]) -> list[str]:
    """Evidence ids in canonical `D<session>:<turn>` form; lists and odd spellings split."""
    ids: list[str] = []
    for item in raw:
        for m in _DIA.finditer(str(item)):
            ident = f"D{int(m.group(1))}:{int(m.group(2))}"
            if ident not in ids:
                ids.append(ident)
    return ids


def _turn_text(turn: dict[str, Any]) -> str:
    text = str(turn.get("text") or "").strip()
    caption = str(turn.get("blip_caption") or "").strip()
    if caption:
        text = f"{text} [shares {caption}]".strip()
    return text


def read_samples(path: str | Path, what: str, hint: str) -> list[dict[str, Any]]:
    """The samples of a LoCoMo-format file (JSON, or gzipped JSON when it ends in .gz);
    `what` names the data set in errors, `hint` says where to get it."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no {what} file at {path}; {hint} and pass its path with --data")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, EOFError) as exc:
        raise InvalidInput(f"cannot read {path} as JSON: {exc}") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
        raise InvalidInput(f"{path} is not a {what} file: expected a list of samples")
    for index, sample in enumerate(data):
        if not isinstance(sample.get("conversation"), dict):
            raise InvalidInput(f"sample {index} of {path} has no 'conversation' object")
    return data


def load_locomo(path: str | Path) -> list[Conversation]:
    """Read a LoCoMo-format file: a list of samples with `conversation` and `qa`."""
    hint = "download locomo10.json (github.com/snap-research/locomo)"
    return conversations_of(read_samples(path, "LoCoMo", hint))


def conversations_of(data: list[dict[str, Any]], prefix: str = "locomo") -> list[Conversation]:
    """Samples in LoCoMo's format as conversations: dated turns, and the questions whose
    evidence names some of them (their scopes named `prefix-<sample id>`)."""
    conversations = []
    for index, sample in enumerate(data):
        conv = sample["conversation"]
        sample_id = str(sample.get("sample_id") or f"conv-{index}")
        turns: list[Turn] = []
        sessions = sorted(
            (int(m.group(1)), key)
            for key in conv
            if (m := re.fullmatch(r"session_(\d+)", key)) and isinstance(conv[key], list)
        )
        for number, key in sessions:
            at = parse_session_date(conv.get(f"{key}_date_time", ""))
            if at is None:
                log.warning(
                    "%s %s: unreadable session date %r",
                    sample_id,
                    key,
                    conv.get(f"{key}_date_time"),
                )
            for position, raw in enumerate(conv[key]):
                text = _turn_text(raw)
                if not text or "dia_id" not in raw:
                    continue
                when = at + position * TURN_SPACING if at else None
                dia = repair_evidence([raw["dia_id"]])
                turns.append(
                    Turn(
                        dia[0] if dia else str(raw["dia_id"]),
                        str(raw.get("speaker") or ""),
                        text,
                        number,
                        when,
                    )
                )
        known = {t.dia_id for t in turns}
        item = Conversation(sample_id, turns, [], prefix=prefix)
        for qa in sample.get("qa") or []:
            evidence = repair_evidence(qa.get("evidence") or [])
            item.dropped_evidence += [e for e in evidence if e not in known]
            evidence = [e for e in evidence if e in known]
            if not evidence or not str(qa.get("question") or "").strip():
                item.skipped_questions += 1
                continue
            asked = qa.get("question_date")
            item.questions.append(
                Question(
                    str(qa["question"]).strip(),
                    int(qa.get("category") or 0),
                    evidence,
                    str(qa.get("answer", qa.get("adversarial_answer", ""))),
                    asked_at=parse_session_date(asked) if asked else None,
                    sessions=[int(n) for n in qa.get("answer_sessions") or []],
                    kind=str(qa.get("question_type") or ""),
                )
            )
        conversations.append(item)
    return conversations


def memories_of(conv: Conversation) -> list[tuple[str, list[NewMemory]]]:
    """The memories a client would write for a conversation: one batch per session."""
    batches: dict[int, list[NewMemory]] = {}
    for turn in conv.turns:
        batches.setdefault(turn.session, []).append(
            BatchMemory(
                content=turn.text,
                kind="episodic",
                scope=conv.scope,
                occurred_at=turn.at,
                metadata={"speaker": turn.speaker} if turn.speaker else {},
            )
        )
    return [(f"{conv.sample_id}/session_{n}", items) for n, items in sorted(batches.items())]


MAPPING_FILE = "locomo-turns.json"


def save_mapping(
    folder: str | Path, mapping: dict[str, dict[str, set[str]]], name: str = MAPPING_FILE
) -> None:
    """Keep, beside a benchmark store, which memory stands for which turns (to reuse it)."""
    data = {scope: {i: sorted(t) for i, t in ids.items()} for scope, ids in mapping.items()}
    Path(folder, name).write_text(json.dumps(data), "utf-8")


def load_mapping(
    folder: str | Path, name: str = MAPPING_FILE
) -> dict[str, dict[str, set[str]]] | None:
    """The mapping `save_mapping` kept in `folder`, or None when there is none."""
    path = Path(folder, name)
    if not path.is_file():
        return None
    data = json.loads(path.read_text("utf-8"))
    return {scope: {i: set(t) for i, t in ids.items()} for scope, ids in data.items()}


def _ndcg(relevant: list[bool], total: int, k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, rel in enumerate(relevant[:k]) if rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(total, k)))
    return dcg / ideal if ideal else 0.0


def score_question(
    ranked: list[set[str]], evidence: Sequence[str], ks: Sequence[int]
) -> dict[str, float]:
    """Metrics of one question; `ranked` holds, per hit, the turn ids that memory stands for."""
    wanted = set(evidence)
    scores: dict[str, float] = {}
    for k in ks:
        found = set().union(*ranked[:k]) & wanted if ranked[:k] else set()
        scores[f"recall@{k}"] = len(found) / len(wanted)
    # A memory standing for several identical turns counts once in the ranking.
    relevant = [bool(ids & wanted) for ids in ranked]
    scores["ndcg@10"] = _ndcg(relevant, len(wanted), 10)
    first = next((i for i, rel in enumerate(relevant) if rel), None)
    scores["mrr"] = 1.0 / (first + 1) if first is not None else 0.0
    return scores


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    """Each metric averaged over `rows`, as a percentage."""
    if not rows:
        return {}
    return {key: 100.0 * statistics.fmean(r[key] for r in rows) for key in rows[0]}


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank; 0 when there are none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def ingest(
    service: Any, conversations: Sequence[Conversation]
) -> dict[str, dict[str, set[str]]]:
    """Write every turn through `remember_many`; returns, per scope, memory id → turn ids."""
    mapping: dict[str, dict[str, set[str]]] = {}
    for conv in conversations:
        ids: dict[str, set[str]] = mapping.setdefault(conv.scope, {})
        turns = iter(conv.turns)
        for session, items in memories_of(conv):
            ctx = CallContext(
                project_scope=conv.scope, client="locomo-eval", session=session, tool="eval"
            )
            results = await service.remember_many(items, ctx=ctx)
            for result in results:
                turn = next(turns).dia_id
                if result.status == "refused":
                    log.warning("%s: turn %s refused: %s", conv.sample_id, turn, result.error)
                    continue
                for memory_id in result.parts or [result.id]:
                    ids.setdefault(memory_id, set()).add(turn)
    return mapping


async def ingest_turn_by_turn(
    service: Any, conversations: Sequence[Conversation]
) -> tuple[dict[str, dict[str, set[str]]], int]:
    """Write every turn as an assistant would over MCP: one `remember` call per turn, its text
    led by the speaker, as a semantic memory, undated. Returns the mapping (as `ingest`) and how
    many stored turns were superseded by a later one (each a fact recall then hides)."""
    mapping: dict[str, dict[str, set[str]]] = {}
    superseded = 0
    for conv in conversations:
        ids: dict[str, set[str]] = mapping.setdefault(conv.scope, {})
        ctx = CallContext(project_scope=validate_scope(conv.scope), client="locomo-eval",
                          tool="remember",
                          source="assistant")
        for turn in conv.turns:
            result = await service.remember(f"{turn.speaker}: {turn.text}", ctx=ctx)
            ids.setdefault(result.id, set()).add(turn.dia_id)
            superseded += len(result.supersedes)
    return mapping, superseded


async def evaluate(
    service: Any,
    conversations: Sequence[Conversation],
    *,
    runs: dict[str, tuple[str, ...] | None] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    mapping: dict[str, dict[str, set[str]]] | None = None,
    progress: Any = None,
    turn_by_turn: bool = False,
    ingested: Callable[[dict[str, dict[str, set[str]]]], None] | None = None,
) -> dict[str, Any]:
    """Ingest (unless `mapping` is given: a store built before; `ingested` is handed the
    mapping of a new one) and ask every question under each configuration; `turn_by_turn`
    stores one `remember` call per turn, as an assistant would."""
    runs = runs if runs is not None else DEFAULT_RUNS
    depth = max(ks)
    started = time.perf_counter()
    superseded = None
    built = mapping is None
    if mapping is None and turn_by_turn:
        mapping, superseded = await ingest_turn_by_turn(service, conversations)
    elif mapping is None:
        mapping = await ingest(service, conversations)
    if built and ingested:
        ingested(mapping)
    ingest_seconds = time.perf_counter() - started
    report: dict[str, Any] = {
        "data": {
            "conversations": len(conversations),
            "turns": sum(len(c.turns) for c in conversations),
            "memories": sum(len(m) for m in mapping.values()),
            "questions": sum(len(c.questions) for c in conversations),
            "skipped_questions": sum(c.skipped_questions for c in conversations),
            "dropped_evidence": sorted(
                {f"{c.sample_id}:{e}" for c in conversations for e in c.dropped_evidence}
            ),
            "ingest_seconds": round(ingest_seconds, 2) if built else None,
            "ingest": ("store reused" if not built else "turn by turn (remember)" if turn_by_turn
                       else "batches (remember_many)"),
            "superseded_turns": superseded,
            "embedder": service.embedding_model or "none",
        },
        "runs": {},
    }
    for name, legs in runs.items():
        per_question: list[tuple[int, dict[str, float]]] = []
        latencies: list[float] = []
        for conv in conversations:
            ids = mapping[conv.scope]
            for q in conv.questions:
                t0 = time.perf_counter()
                result = await service.recall(q.text, scope=conv.scope, limit=depth, legs=legs)
                latencies.append(1000 * (time.perf_counter() - t0))
                ranked = [ids.get(hit.id, set()) for hit in result.memories]
                per_question.append((q.category, score_question(ranked, q.evidence, ks)))
        categories = {
            str(cat): {"name": CATEGORIES.get(cat, str(cat)), "questions": len(rows),
                       **mean_scores(rows)}
            for cat in sorted({c for c, _ in per_question})
            if (rows := [s for c, s in per_question if c == cat])
        }
        report["runs"][name] = {
            "legs": list(legs) if legs else ["all"],
            "overall": {"questions": len(per_question),
                        **mean_scores([s for _, s in per_question])},
            "categories": categories,
            "latency_ms": {
                "p50": round(percentile(latencies, 0.5), 2),
                "p95": round(percentile(latencies, 0.95), 2),
            },
        }
        if progress:
            progress(name, report["runs"][name])
    report["query_embedding_ms"] = await _embedding_latency(service, conversations)
    return report


async def _embedding_latency(
    service: Any, conversations: Sequence[Conversation]
) -> dict[str, float]:
    """Time to embed each question on its own, as `recall` does (reported apart from search)."""
    embedder = service.encoder.embedder
    if embedder is None:
        return {}
    times = []
    for conv in conversations:
        for q in conv.questions[:50]:
            t0 = time.perf_counter()
            embedder.embed([q.text])
            times.append(1000 * (time.perf_counter() - t0))
    return {"p50": round(percentile(times, 0.5), 2), "p95": round(percentile(times, 0.95), 2)}


def format_report(report: dict[str, Any], ks: Sequence[int] = DEFAULT_KS) -> str:
    """A plain-text table: one block per run, overall then per category."""
    data = report["data"]
    lines = [
        f"LoCoMo: {data['conversations']} conversations, {data['turns']} turns "
        f"({data['memories']} memories), {data['questions']} questions with evidence "
        f"({data['skipped_questions']} skipped), embedder {data['embedder']}, "
        + (f"ingest {data['ingest_seconds']} s, " if data["ingest_seconds"] is not None else "")
        + data["ingest"],
    ]
    if data["superseded_turns"] is not None:
        lines.append(f"turns superseded by a later turn: {data['superseded_turns']} "
                     f"of {data['turns']} (hidden from recall)")
    if data["dropped_evidence"]:
        lines.append(
            f"evidence ids naming no turn (dropped): {', '.join(data['dropped_evidence'])}"
        )
    cols = [f"R@{k}" for k in ks] + ["NDCG@10", "MRR"]
    keys = [f"recall@{k}" for k in ks] + ["ndcg@10", "mrr"]
    header = f"{'run':<10} {'category':<16} {'n':>5} " + " ".join(f"{c:>7}" for c in cols)
    lines += ["", header, "-" * len(header)]
    for name, run in report["runs"].items():
        rows = [("overall", run["overall"])] + [
            (f"{cat} {v['name']}", v) for cat, v in run["categories"].items()
        ]
        for label, values in rows:
            lines.append(
                f"{name:<10} {label:<16} {values['questions']:>5} "
                + " ".join(f"{values.get(k, 0.0):>7.1f}" for k in keys)
            )
        lat = run["latency_ms"]
        lines.append(f"{name:<10} latency p50 {lat['p50']} ms, p95 {lat['p95']} ms")
        lines.append("")
    emb = report.get("query_embedding_ms")
    if emb:
        lines.append(f"query embedding alone: p50 {emb['p50']} ms, p95 {emb['p95']} ms")
    return "\n".join(lines)
