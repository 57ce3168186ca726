"""The `habitus` command, run in-process with click's runner on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from habitus.cli import cli


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    db = str(tmp_path / "store")

    def invoke(*args: str, ok: bool = True, input: str | None = None):
        result = runner.invoke(cli, ["--db", db, *args], input=input, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_remember_recall_forget_round_trip(run) -> None:
    stored = json.loads(
        run("remember", "Releases are tagged vX.Y.Z on main", "--tags", "release", "--json").output
    )
    assert stored["status"] == "created"
    other = json.loads(
        run("remember", "-", "--kind", "episodic", "--json", input="Tagged v1.2.0 yesterday").output
    )
    found = json.loads(run("recall", "how are releases tagged", "--json").output)
    assert found["memories"][0]["id"] == stored["id"]
    human = run("recall", "release tag").output
    assert stored["id"] in human and "tokens" in human
    linked = json.loads(
        run("link", other["id"], stored["id"], "--relation", "example_of", "--json").output
    )
    assert linked["created"] is True
    gone = json.loads(run("forget", other["id"], "--json").output)
    assert gone["count"] == 1
    restored = json.loads(run("forget", other["id"], "--restore", "--json").output)
    assert restored["restored"] == [other["id"]]
    preview = json.loads(run("forget", "--query", "releases tagged", "--json").output)
    assert preview["dry_run"] is True
    stats = json.loads(run("stats", "--json").output)
    assert stats["memories"] == 2 and stats["links"] == 1


def test_errors_are_one_clean_line(run) -> None:
    result = run("link", "nope", "nope", ok=False)
    assert result.exit_code == 1
    assert "cannot be linked to itself" in result.output and "Traceback" not in result.output
    result = run("recall", "x", "--limit", "0", ok=False)
    assert result.exit_code == 2


def test_export_import_and_reflect(run, tmp_path: Path) -> None:
    run("remember", "The linter is ruff")
    run("remember", "Formatting is checked in CI with ruff format --check")
    out = tmp_path / "dump.jsonl"
    assert json.loads(run("export", str(out), "--json").output)["memories"] == 2
    bundle = json.loads(run("reflect", "--topic", "ruff linter", "--json").output)
    assert bundle["groups"][0]["reason"] == "topic" and len(bundle["groups"][0]["memories"]) == 2
    imported = json.loads(run("import", str(out), "--json").output)
    assert imported["reinforced"] == 2


def test_doctor_reports_store_and_embedder(run, tmp_path: Path) -> None:
    report = json.loads(run("doctor", "--json").output)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["embedder"]["ok"] and checks["tokenizer"]["ok"] and checks["recall"]["ok"]
    assert checks["secrets"]["ok"]  # redaction is on unless turned off
    assert report["path"] == str(tmp_path / "store")


@pytest.mark.parametrize(
    "client", ["claude-desktop", "claude-code", "cursor", "vscode", "windsurf", "zed"]
)
@pytest.mark.fast
def test_install_writes_a_valid_entry(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    dry = json.loads(run("install", client, "--dry-run", "--json").output)
    assert dry["changed"] and not dry["written"] and not Path(dry["path"]).exists()
    done = json.loads(run("install", client, "--json").output)
    assert done["written"] and Path(done["path"]).is_file()
    assert str(tmp_path / "home") in done["path"]
    entry = done["entry"]
    if "command" in entry:
        assert Path(entry["command"]).is_absolute()
        assert entry["args"][-1] == "serve" and entry["args"][
            entry["args"].index("--db") + 1
        ] == str(tmp_path / "store")
    again = json.loads(run("install", client, "--json").output)
    assert again["changed"] is False
    printed = run("install", client, "--print").output
    assert "habitus" in printed


@pytest.mark.fast
def test_version_and_help(run) -> None:
    assert "habitus" in run("--help").output
    assert run("--version").output.strip()
