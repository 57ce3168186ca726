"""`habitus eval procedures` on a slice of the ALFWorld data (skipped without ../shared/data)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from habitus.cli import cli

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
    for key in ("p_at_1", "map", "ndcg_at_10"):
        assert 0.0 <= report[key] <= 1.0
    assert 0.3 <= report["leave_one_out"]["p_at_1"] <= 1.0  # few same-task pairs in 60
    assert report["steps"]["kept_mean"] < report["steps"]["original_mean"]
    assert not (tmp_path / "unused").exists()  # a throw-away store, not the user's


def test_eval_procedures_says_what_is_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "procedures", "--data", str(tmp_path)])
    assert result.exit_code != 0 and "trajectories.json" in result.output
