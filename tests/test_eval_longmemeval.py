"""The LongMemEval benchmark on a tiny synthetic haystack in its converted format: loading,
session-level metrics, the BM25 baseline, a run through recall and the CLI."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from habitus.base.errors import InvalidInput
from habitus.evaluation.locomo import Question
from habitus.evaluation.longmemeval import (
    bm25_ranking,
    evaluate,
    format_report,
    load_longmemeval,
    score_ranking,
)


def _sample(qid: str, question: str, evidence: list[str], sessions: list[int],
            qtype: str, category: int, date: str) -> dict[str, Any]:
    return {
        "sample_id": qid,
        "conversation": {
            "speaker_a": "user",
            "speaker_b": "assistant",
            "session_1_date_time": "9:00 am on 2 May, 2023",
            "session_1": [
                {"speaker": "user", "dia_id": "D1:1",
                 "text": "I finally graduated with a degree in marine biology."},
                {"speaker": "assistant", "dia_id": "D1:2",
                 "text": "Congratulations on finishing your marine biology degree!"},
            ],
            "session_2_date_time": "6:00 pm on 20 May, 2023",
            "session_2": [
                {"speaker": "user", "dia_id": "D2:1",
                 "text": "Can you suggest a recipe for a lemon tart?"},
                {"speaker": "assistant", "dia_id": "D2:2",
                 "text": "Here is a classic lemon tart with a shortcrust base."},
            ],
            "session_3_date_time": "8:00 am on 27 May, 2023",
            "session_3": [
                {"speaker": "user", "dia_id": "D3:1",
                 "text": "I went kayaking on the lake with my sister today."},
            ],
        },
        "qa": [{
            "question": question, "answer": "x", "evidence": evidence, "category": category,
            "question_type": qtype, "question_date": date, "answer_sessions": sessions,
        }],
    }


SAMPLES = [
    _sample("q-one", "What degree did I graduate with?", ["D1:1"], [1],
            "single-session-user", 11, "10:00 pm on 30 May, 2023"),
    _sample("q-two", "What did I do on the lake, and which tart did you suggest?",
            ["D3:1", "D2:2"], [2, 3], "multi-session", 14, "10:00 pm on 30 May, 2023"),
]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json.gz"
    path.write_bytes(gzip.compress(json.dumps(SAMPLES).encode()))
    return path


@pytest.mark.fast
def test_loading_keeps_date_sessions_and_type(tiny: Path) -> None:
    one, two = load_longmemeval(tiny)
    assert one.scope == "lme-q-one" and len(one.turns) == 5
    [q] = two.questions
    assert q.sessions == [2, 3] and q.kind == "multi-session"
    assert q.asked_at is not None and q.asked_at.isoformat().startswith("2023-05-30T22:00")


@pytest.mark.fast
def test_bad_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no LongMemEval file"):
        load_longmemeval(tmp_path / "absent.json.gz")
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(InvalidInput, match="cannot read"):
        load_longmemeval(broken)
    undated = tmp_path / "undated.json"
    sample = json.loads(json.dumps(SAMPLES[0]))
    del sample["qa"][0]["question_date"]
    undated.write_text(json.dumps([sample]))
    with pytest.raises(InvalidInput, match="question_date"):
        load_longmemeval(undated)


@pytest.mark.fast
def test_session_metrics_count_the_first_distinct_sessions() -> None:
    q = Question("q", 14, ["D3:1", "D2:2"], sessions=[2, 3])
    # Sessions in ranking order: 1, 3, 4, 5, 6, then 2.
    ranked = [{"D1:1"}, {"D3:1"}, {"D1:2"}, {"D4:1"}, {"D5:1"}, {"D6:1"}, {"D2:2"}]
    s = score_ranking(ranked, q, (5, 10))
    assert s["turn@5"] == 0.5 and s["turn@10"] == 1.0
    assert s["any@5"] == 1.0 and s["all@5"] == 0.0
    assert s["any@10"] == 1.0 and s["all@10"] == 1.0


@pytest.mark.fast
def test_bm25_baseline_ranks_the_turn_with_the_words(tiny: Path) -> None:
    one, _ = load_longmemeval(tiny)
    ranked = bm25_ranking(one, "What degree did I graduate with?")
    assert ranked[0] == {"D1:1"}
    assert bm25_ranking(one, "zeppelin") == []


@pytest.mark.anyio
async def test_evaluate_through_recall(service: Any, tiny: Path) -> None:
    convs = load_longmemeval(tiny)
    kept: list[dict[str, dict[str, set[str]]]] = []
    report = await evaluate(service, convs, runs=("full", "bm25"), ingested=kept.append)
    assert report["data"]["turns"] == 10 and report["data"]["turns_per_second"] > 0
    full = report["runs"]["full"]
    assert full["overall"]["questions"] == 2 and full["overall"]["any@5"] == 100.0
    assert set(full["types"]) == {"single-session-user", "multi-session"}
    assert full["per_question"]["q-one"]["turn@5"] == 1.0
    assert "bm25" in report["runs"] and "multi-session" in format_report(report)
    # The mapping kept lets a second run ask again without ingesting.
    again = await evaluate(service, convs, runs=("full",), mapping=kept[0])
    assert again["data"]["ingest_seconds"] is None
    assert again["runs"]["full"]["overall"] == full["overall"]


def test_cli_keeps_and_reuses_its_store(tiny: Path, tmp_path: Path) -> None:
    from habitus.cli import cli

    store = tmp_path / "bench"
    args = ["--db", str(tmp_path / "unused"), "eval", "longmemeval", "--data", str(tiny),
            "--store", str(store), "--json", "--runs", "full,bm25", "--every", "2"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output[first.output.index("{"):])
    assert report["data"]["questions"] == 1 and set(report["runs"]) == {"full", "bm25"}
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert json.loads(second.output[second.output.index("{"):])["data"]["ingest_seconds"] is None
    bad = CliRunner().invoke(cli, [*args[:-4], "--runs", "nope"])
    assert bad.exit_code != 0 and "unknown run" in bad.output
