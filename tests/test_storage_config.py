"""Configuration for a store on object storage and for the author: storage options from the
command line and the environment, plain-HTTP endpoints, what `install` carries into a
registration, the git user as the default author, and doctor's one-line explanations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from habitus.base.errors import InvalidInput
from habitus.cli import cli
from habitus.core.config import Settings, registration_env
from habitus.core.maintenance.doctor import explain
from habitus.core.meta import meta_of
from habitus.core.project.git import user_identity
from habitus.core.storage_options import (
    effective_storage_options,
    parse_storage_options,
    plain_http_note,
    storage_option,
)
from habitus.core.trust.provenance import stamp

pytestmark = pytest.mark.fast

ENDPOINT = "http://127.0.0.1:9000"


def test_storage_options_are_json_or_comma_separated_pairs() -> None:
    assert parse_storage_options('{"aws_region": "eu-west-1", "allow_http": true, "n": 3}') == {
        "aws_region": "eu-west-1", "allow_http": "true", "n": "3"}
    assert parse_storage_options(" aws_region=eu-west-1, token=a=b ,") == {
        "aws_region": "eu-west-1", "token": "a=b"}
    assert parse_storage_options("") == {}
    assert storage_option("aws_endpoint=http://h:1") == ("aws_endpoint", "http://h:1")


@pytest.mark.parametrize("text", ["{not json", '["a"]', '{"a": {"b": 1}}', '{"a": null}',
                                  "novalue", "=x", "two words=x"])
def test_malformed_storage_options_are_refused_with_the_form_expected(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_storage_options(text)
    assert "HABITUS_STORAGE_OPTIONS" in str(caught.value) or "KEY=VALUE" in str(caught.value)


def test_a_plain_http_endpoint_given_by_the_user_is_allowed() -> None:
    assert effective_storage_options("s3://b/s", {"aws_endpoint": ENDPOINT}, {}) == {
        "aws_endpoint": ENDPOINT, "allow_http": "true"}
    # Given in the environment, as AWS's tools take it.
    assert effective_storage_options("s3://b/s", None, {"AWS_ENDPOINT_URL": ENDPOINT}) == {
        "allow_http": "true"}
    # Said otherwise by the user, or https, or not S3: left alone.
    assert effective_storage_options(
        "s3://b/s", {"endpoint": ENDPOINT, "allow_http": "false"}, {}) == {
        "endpoint": ENDPOINT, "allow_http": "false"}
    assert effective_storage_options("s3://b/s", None, {"AWS_ENDPOINT_URL": ENDPOINT,
                                                        "AWS_ALLOW_HTTP": "false"}) is None
    assert effective_storage_options("s3://b/s", {"aws_endpoint": "https://h"}, {}) == {
        "aws_endpoint": "https://h"}
    assert effective_storage_options("gs://b/s", None, {"AWS_ENDPOINT_URL": ENDPOINT}) is None
    assert effective_storage_options("/tmp/store", None, {}) is None


def test_doctor_says_whether_plain_http_leaves_the_machine() -> None:
    near = plain_http_note("s3://b/s", {"aws_endpoint": ENDPOINT, "allow_http": "true"})
    assert near is not None and "unencrypted" not in near
    far = plain_http_note("s3://b/s", {"aws_endpoint": "http://minio.internal:9000",
                                       "allow_http": "true"})
    assert far is not None and "unencrypted to minio.internal" in far
    assert plain_http_note("s3://b/s", {"aws_endpoint": "https://h"}) is None
    assert plain_http_note("s3://b/s", {"aws_endpoint": ENDPOINT, "allow_http": "false"}) is None


def test_install_carries_what_reaches_the_store_into_the_registration() -> None:
    environ = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "GOOGLE_X": "g",
               "HABITUS_AUTHOR": "Ada <ada@example.com>", "PATH": "/bin"}
    settings = Settings(db="s3://team/store", storage_options={"aws_region": "eu-west-1"},
                        author="Ada <ada@example.com>")
    assert registration_env(settings, environ) == {
        "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s",
        "HABITUS_STORAGE_OPTIONS": '{"aws_region": "eu-west-1"}',
        "HABITUS_AUTHOR": "Ada <ada@example.com>"}
    # A local store needs none of it; an author read from git is read again by the server.
    assert registration_env(Settings(db="/tmp/s", storage_options=None, author="x"),
                            environ | {"HABITUS_AUTHOR": ""}) == {}


def test_the_command_line_takes_storage_options_and_install_writes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.setenv("HABITUS_STORAGE_OPTIONS", "aws_region=eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    result = CliRunner().invoke(cli, [
        "--db", "s3://team/store", "--storage-option", f"aws_endpoint={ENDPOINT}",
        "--author", "Ada <ada@example.com>", "install", "claude-desktop", "--print"])
    assert result.exit_code == 0, result.output
    entry = json.loads(result.output)["mcpServers"]["habitus"]
    assert entry["args"][-3:] == ["--db", "s3://team/store", "serve"]
    assert json.loads(entry["env"]["HABITUS_STORAGE_OPTIONS"]) == {
        "aws_region": "eu-west-1", "aws_endpoint": ENDPOINT}
    assert entry["env"]["AWS_ACCESS_KEY_ID"] == "AKIAEXAMPLE"
    assert entry["env"]["HABITUS_AUTHOR"] == "Ada <ada@example.com>"


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--storage-option", "novalue"], {}, "KEY=VALUE"),
    (["--author", " "], {}, "--author"),
    ([], {"HABITUS_STORAGE_OPTIONS": "{oops"}, "not valid JSON"),
])
def test_bad_configuration_is_a_clear_usage_error(
    args: list[str], env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, [*args, "stats"])
    assert result.exit_code == 2
    assert message in result.output


def test_the_author_defaults_to_the_git_user_read_from_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text('[user]\n\tname = "Ada Lovelace"\n\temail = ada@old.org\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".git" / "config").write_text("[user]\n  email = ada@example.com # work\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    assert user_identity(None) == "Ada Lovelace <ada@old.org>"
    assert user_identity(repo) == "Ada Lovelace <ada@example.com>"
    monkeypatch.chdir(repo)
    assert Settings().author == "Ada Lovelace <ada@example.com>"
    monkeypatch.setenv("HABITUS_AUTHOR", "Grace <grace@example.com>")
    assert Settings().author == "Grace <grace@example.com>"
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "none"))
    assert user_identity(None) is None


def test_a_memory_records_its_author_never_the_callers_claim() -> None:
    claimed = json.dumps({"habitus": {"author": "Mallory"}})
    _, section = meta_of({"metadata": stamp(claimed, "a fact", "assistant", "Ada <a@x>")})
    assert section["author"] == "Ada <a@x>" and "claimed_author" not in section
    _, section = meta_of({"metadata": stamp(claimed, "a fact", "imported", "Ada <a@x>")})
    assert section["author"] == "Ada <a@x>" and section["claimed_author"] == "Mallory"
    _, section = meta_of({"metadata": stamp(claimed, "a fact", "user", "")})
    assert "author" not in section


S3 = "s3://team/store"
OPTIONS = {"aws_endpoint": ENDPOINT}


@pytest.mark.parametrize(("error", "expected"), [
    ("reqwest::Error { kind: Builder, source: BadScheme }", "allow_http=true"),
    ("<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>",
     "the bucket team does not exist at http://127.0.0.1:9000"),
    ("status: 403, <Error><Code>InvalidAccessKeyId</Code>", "credentials were refused"),
    ("<Error><Code>AccessDenied</Code><Message>Access Denied</Message>",
     "may not write in s3://team"),
    ('ConnectError("tcp connect error", Os { code: 111, kind: ConnectionRefused, message: '
     '"Connection refused" })', "cannot reach http://127.0.0.1:9000 (Connection refused)"),
    ("Failed to get AWS credentials: ProviderError", "no credentials found for s3://"),
])
def test_doctor_says_what_is_missing_in_one_line(error: str, expected: str) -> None:
    said = explain(ValueError(error), S3, OPTIONS, "write")
    assert expected in said and "\n" not in said
