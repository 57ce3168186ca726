"""The LoCoMo benchmark on a tiny synthetic file in LoCoMo format: loading, repair, metrics, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from habitus.base.errors import InvalidInput
from habitus.evaluation.locomo import evaluate, load_locomo, repair_evidence, score_question

SAMPLE = [
    {
        "sample_id": "tiny-1",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Bob",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {
                    "speaker": "Ann",
                    "dia_id": "D1:1",
                    "text": "I adopted a beagle called Rufus last weekend.",
                },
                {
                    "speaker": "Bob",
                    "dia_id": "D1:2",
                    "text": "Lovely! What made you pick that breed?",
                },
                {"speaker": "Ann", "dia_id": "D1:3", "text": "They are friendly with kids."},
            ],
            "session_2_date_time": "10:00 am on 20 June, 2023",
            "session_2": [
                {"speaker": "Bob", "dia_id": "D2:1", "text": "I started learning the cello."},
                {
                    "speaker": "Ann",
                    "dia_id": "D2:2",
                    "text": "Look at this!",
                    "blip_caption": "a photo of a red kayak",
                },
            ],
        },
        "qa": [
            {
                "question": "What dog did Ann adopt?",
                "answer": "a beagle",
                "evidence": ["D1:1"],
                "category": 4,
            },
            {
                "question": "What instrument is Bob learning?",
                "answer": "cello",
                "evidence": ["D2:1; D1:9"],
                "category": 1,
            },
            {
                "question": "What boat did Ann show?",
                "answer": "kayak",
                "evidence": ["D:2:02"],
                "category": 2,
            },
            {"question": "Unanswerable", "evidence": [], "category": 5, "adversarial_answer": "x"},
        ],
    }
]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SAMPLE))
    return path


@pytest.mark.fast
def test_loading_repairs_evidence_and_dates(tiny: Path) -> None:
    [conv] = load_locomo(tiny)
    assert conv.scope == "locomo-tiny-1" and len(conv.turns) == 5
    assert conv.turns[0].at is not None and conv.turns[0].at.isoformat().startswith(
        "2023-05-08T13:56"
    )
    assert conv.turns[1].at > conv.turns[0].at
    assert "red kayak" in conv.turns[4].text
    assert [q.evidence for q in conv.questions] == [["D1:1"], ["D2:1"], ["D2:2"]]
    assert conv.dropped_evidence == ["D1:9"] and conv.skipped_questions == 1
    assert repair_evidence(["D8:6; D9:17", "D30:05", "D"]) == ["D8:6", "D9:17", "D30:5"]


@pytest.mark.fast
def test_missing_or_bad_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no LoCoMo file"):
        load_locomo(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "locomo"}')
    with pytest.raises(InvalidInput, match="conversation"):
        load_locomo(bad)


@pytest.mark.fast
def test_metrics() -> None:
    ranked: list[set[str]] = [{"x"}, {"a"}, set(), {"b"}]
    s = score_question(ranked, ["a", "b"], (1, 2, 5))
    assert s["recall@1"] == 0 and s["recall@2"] == 0.5 and s["recall@5"] == 1.0
    assert s["mrr"] == 0.5 and 0 < s["ndcg@10"] < 1


@pytest.mark.anyio
async def test_evaluate_through_recall(service: Any, tiny: Path) -> None:
    convs = load_locomo(tiny)
    report = await evaluate(service, convs)
    assert set(report["runs"]) == {"full", "lexical", "vector"}
    full = report["runs"]["full"]
    assert full["overall"]["questions"] == 3
    assert full["overall"]["recall@5"] == 100.0
    assert set(full["categories"]) == {"1", "2", "4"}
    assert full["latency_ms"]["p50"] > 0
    # Stored like any client's memories: episodic, dated by session, speaker in metadata.
    rows = await service.store.scan(None)
    assert {r["kind"] for r in rows} == {"episodic"} and len(rows) == 5
    assert all(r["scope"] == "repo:locomo-tiny-1" or r["scope"] == "locomo-tiny-1" for r in rows)
    assert min(r["created_at"] for r in rows).year == 2023


@pytest.mark.anyio
async def test_turn_by_turn_as_an_assistant_would(service: Any, tiny: Path) -> None:
    report = await evaluate(service, load_locomo(tiny), runs={"full": None}, turn_by_turn=True)
    assert report["data"]["superseded_turns"] == 0
    assert report["runs"]["full"]["overall"]["questions"] == 3
    assert report["runs"]["full"]["overall"]["recall@5"] == 100.0  # stored where recall looks
    rows = await service.store.scan(None)
    assert {r["scope"] for r in rows} == {"repo:locomo-tiny-1"}
    assert {r["kind"] for r in rows} == {"semantic"} and len(rows) == 5
    assert all(":" in r["content"] for r in rows)  # led by the speaker


def test_cli(tiny: Path, tmp_path: Path) -> None:
    from habitus.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(tmp_path / "unused"),
            "eval",
            "locomo",
            "--data",
            str(tiny),
            "--json",
            "--runs",
            "full,lexical",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert set(report["runs"]) == {"full", "lexical"}
    missing = CliRunner().invoke(cli, ["eval", "locomo", "--data", str(tmp_path / "nope.json")])
    assert missing.exit_code != 0 and "no LoCoMo file" in missing.output


def test_cli_keeps_and_reuses_its_store(tiny: Path, tmp_path: Path) -> None:
    from habitus.cli import cli

    store = tmp_path / "bench"
    args = ["--db", str(tmp_path / "unused"), "eval", "locomo", "--data", str(tiny),
            "--store", str(store), "--json", "--runs", "full"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output[first.output.index("{"):])
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    again = json.loads(second.output[second.output.index("{"):])
    assert again["data"]["ingest"] == "store reused" and again["data"]["ingest_seconds"] is None
    assert again["runs"]["full"]["overall"] == report["runs"]["full"]["overall"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "file").write_text("x")
    refused = CliRunner().invoke(cli, [*args[:6], "--store", str(other)])
    assert refused.exit_code != 0 and "holds no earlier run" in refused.output
