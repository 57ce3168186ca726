"""`habitus eval procedures` on a slice of the ALFWorld data (skipped without ../shared/data)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from habitus.cli import cli
from habitus.evaluation.procedures import _average_precision, _average_precision_at_top

DATA = Path(
    os.environ.get("HABITUS_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
pytestmark = pytest.mark.skipif(
    not (DATA / "alfworld" / "queries.json").is_file(),
    reason=f"ALFWorld data not found at {DATA} (set HABITUS_DATA_DIR)",
)


def test_eval_procedures_reports_retrieval_figures(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "unused"), "eval", "procedures",
                                      "--data", str(DATA), "--limit", "60", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["trajectories"] == 60 and report["queries"] == 19
    assert 0 < report["procedures"] <= 60
    for figures in (report, *report["baselines"].values()):
        for key in ("p_at_1", "map", "map_at_10", "ndcg_at_10"):
            assert 0.0 <= figures[key] <= 1.0
    assert set(report["baselines"]) == {"task description", "task, states and actions"}
    assert 0.3 <= report["leave_one_out"]["p_at_1"] <= 1.0  # few same-task pairs in 60
    assert report["steps"]["kept_mean"] < report["steps"]["original_mean"]
    assert not (tmp_path / "unused").exists()  # a throw-away store, not the user's


@pytest.mark.fast
def test_average_precision_strict_and_as_the_benchmark_computes_it() -> None:
    ranked, relevant = ["a", "x", "b", "y"], {"a", "b", "c"}
    assert _average_precision(ranked, relevant) == pytest.approx((1 + 2 / 3) / 3)
    assert _average_precision_at_top(ranked, relevant) == pytest.approx((1 + 2 / 3) / 2)
    assert _average_precision_at_top(["x", "y"], relevant) == 0.0
    assert _average_precision_at_top(["x"] * 10 + ["a"], relevant) == 0.0  # past the top 10


def test_eval_procedures_says_what_is_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "procedures", "--data", str(tmp_path)])
    assert result.exit_code != 0 and "trajectories.json" in result.output
