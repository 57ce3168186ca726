"""Secrets kept out of memory: the rules on their own, then a real store (nothing on disk holds
the secret), distilled trajectories, link notes, the opt-out, and the MCP tool's answer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mcp import Client

from habitus.core.config import Settings
from habitus.core.models import CallContext, NewMemory
from habitus.core.project.scope import Scope
from habitus.core.service import MemoryService
from habitus.core.trust.privacy import clean_data as redact_data
from habitus.core.trust.redaction import redact
from habitus.plugins.manager import PluginManager
from habitus.plugins.procedural import Outcome, Step, Trajectory, distill
from habitus.plugins.procedural.memory import store_procedures
from habitus.server.app import build_server
from habitus.server.runtime import Runtime

from .test_erasure import files_containing

CTX = CallContext(project_scope="repo:example.com/acme/app", client="pytest")
GITHUB = "ghp_" + "Vq8rT2mX9kL4pZ7wN1cB6yH3jD5fG0sA2eR8"
OPENAI = "sk-proj-" + "Qm4Rt7Yb2Nc9Xw3Lp6Kd8Hs1"
SENDGRID = "SG." + "ngeVfQFYQlKU0ufo8x5d1A" + "." + "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"
AZURE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"
             "/K1SZFPTOtr/KBHBeksoGMGw==")

SECRETS = [
    # (text, the secret it holds, the kind reported)
    (f"export GITHUB_TOKEN={GITHUB}", GITHUB, "GitHub token"),
    (f"OPENAI_API_KEY={OPENAI} in .env", OPENAI, "OpenAI API key"),
    ("claude uses sk-ant-api03-" + "x7Kp2Qr9Lm4Nz8Wv3Bt6Yc1" + " here",
     "sk-ant-api03-x7Kp2Qr9Lm4Nz8Wv3Bt6Yc1", "Anthropic API key"),
    ("aws key AKIA" + "QX7RZ2MN4KP8TV3W", "AKIAQX7RZ2MN4KP8TV3W", "AWS access key"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq81",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq81", "secret"),
    ("DATABASE_URL=postgres://app:S3cretPassw0rd@db.internal:5432/app", "S3cretPassw0rd",
     "password in URL"),
    ("curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706abcd'", "9f8e7d6c5b4a39281706abcd",
     "bearer token"),
    ('password = "correcthorsebattery"', "correcthorsebattery", "password"),
    ("DB_PASSWORD=hunter2hunter2", "hunter2hunter2", "password"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
     "-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAA", "private key"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3",
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3", "JSON web token"),
    ("slack xoxb-" + "2048-5096-Zk3Lm8Qp", "xoxb-2048-5096-Zk3Lm8Qp", "Slack token"),
    ("stripe sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
     "Stripe key"),
    # SendGrid: SG. + 22 + . + 43 characters of base64url.
    ("SENDGRID_KEY " + SENDGRID, SENDGRID, "SendGrid API key"),
    ("DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey=" + AZURE_KEY
     + ";EndpointSuffix=core.windows.net", AZURE_KEY, "Azure storage key"),
    ("https://acmelogs.blob.core.windows.net/c/x.txt?sv=2022-11-02&ss=b&sig="
     + "Xk2L9mQp7RtY4wNz8Bv3Cd6Fg1Hj5Ks0%3D", "Xk2L9mQp7RtY4wNz8Bv3Cd6Fg1Hj5Ks0",
     "Azure SAS signature"),
    ("pypi upload with pypi-AgEIcHlwaS5vcmc" + "CJGQ2ZTk4YjU0LWNkZWEtNDc3My1iZWUzLTQ5NjE",
     "pypi-AgEIcHlwaS5vcmcCJGQ2ZTk4YjU0LWNkZWEtNDc3My1iZWUzLTQ5NjE", "PyPI token"),
    ("mailgun key-" + "3ax6xnjp29jd6fds4gc373sgvjxteol0", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
     "Mailgun API key"),
    ("twilio SK" + "2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d", "SK2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d",
     "Twilio API key"),
]

HARMLESS = [
    "token_budget: 4000 and max_tokens=4096",
    "password = get_password()",
    "api_key = os.environ['OPENAI_API_KEY']",
    "The auth middleware checks the session token before each request",
    "commit 3f2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a, id 123e4567-e89b-12d3-a456-426614174000",
    "use scikit-learn and sk-learn-style pipelines",
    "secret: changeme",
    "tokens_used: 12345678",
    "Bearer authentication is configured in auth.py",
    "https://user@example.com/repo.git and postgres://localhost:5432/app",
    "secret_key = settings.SECRET_KEY_V2",
    "token_url: https://auth.example.com/oauth2/token",
    'private_key_path = "~/.ssh/id_ed25519"',
    "secret_name = prod-db-password-2",
    "access_token_ttl = 86400sec",
    "SG.example is the SendGrid module; see sendgrid.SG.send",
    "set AccountKey=<your key> in the connection string",
    "key-value store and SKU numbers like SK1234",
]


@pytest.mark.fast
@pytest.mark.parametrize(("text", "secret", "kind"), SECRETS)
def test_each_kind_of_secret_is_replaced(text: str, secret: str, kind: str) -> None:
    clean, kinds = redact(text)
    assert secret not in clean
    assert f"[redacted: {kind}]" in clean and kinds == [kind]


@pytest.mark.fast
@pytest.mark.parametrize("text", HARMLESS)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == (text, [])


@pytest.mark.fast
def test_no_input_makes_redaction_slow() -> None:
    """Every pattern is bounded: crafted text costs about what prose of the same length does
    (unbounded, `"password" * 4000` took seconds: each position rescanned the rest)."""
    size = 32_000
    prose = ("The deploy failed because parse_config_file read DATABASE_URL too early; "
             "fixed in src/server/config.py. ") * (size // 100)

    def cost(text: str) -> float:
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            redact(text)
            best = min(best, time.perf_counter() - started)
        return best

    baseline = cost(prose)
    for crafted in ("password" * (size // 8), "sk-" * (size // 3), "eyJ-" * (size // 4),
                    "://a" * (size // 4), "-----BEGIN " * (size // 11), "secret: " * (size // 8),
                    "api_key_" * (size // 8), "Bearer " * (size // 7)):
        assert cost(crafted) < 50 * baseline, crafted[:20]


@pytest.mark.fast
def test_the_name_stays_and_nested_data_is_covered() -> None:
    assert redact("DB_PASSWORD=hunter2hunter2")[0] == "DB_PASSWORD=[redacted: password]"
    data, kinds = redact_data({"steps": [f"export GITHUB_TOKEN={GITHUB}", 3], "n": None})
    assert data == {"steps": ["export GITHUB_TOKEN=[redacted: GitHub token]", 3], "n": None}
    assert kinds == ["GitHub token"]
    data, kinds = redact_data({"db": {"password": "hunter2hunter2", "password_file": "/run/pw",
                                      "secret": "what we keep out of git"}})
    assert data == {"db": {"password": "[redacted: password]", "password_file": "/run/pw",
                           "secret": "what we keep out of git"}}
    assert kinds == ["password"]


@pytest.mark.anyio
async def test_no_secret_reaches_the_store(tmp_path: Path) -> None:
    db = tmp_path / "store"
    service = await MemoryService.open(Settings(db=str(db), embedder="minilm"))
    try:
        result = await service.remember(
            f"Deploys use the CI token {GITHUB}; the staging database is "
            "postgres://app:S3cretPassw0rd@db.internal:5432/app",
            metadata={"command": f"OPENAI_API_KEY={OPENAI} make deploy"}, ctx=CTX,
        )
        assert result.redacted == ["GitHub token", "OpenAI API key", "password in URL"]
        stored = await service.get(result.id)
        assert "[redacted: GitHub token]" in stored.content and GITHUB not in stored.content
        found = await service.recall("which token do deploys use", ctx=CTX)
        assert found.memories[0].id == result.id  # still found by what it is about
        again = await service.remember(
            f"Deploys use the CI token {GITHUB}; the staging database is "
            "postgres://app:S3cretPassw0rd@db.internal:5432/app", ctx=CTX,
        )
        assert again.id == result.id and again.status == "reinforced"
    finally:
        await service.close()
    for secret in (GITHUB, OPENAI, "S3cretPassw0rd"):
        assert files_containing(db, secret) == []


@pytest.mark.anyio
async def test_trajectories_and_link_notes_lose_their_secrets(service: MemoryService) -> None:
    trajectory = Trajectory(
        task="Publish the package to the registry",
        steps=[
            Step(action=f"export NPM_TOKEN=npm_{'Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7Bc0Ef3Hi6'}",
                 observation="", success=True),
            Step(action="npm publish", observation="+ pkg@1.2.0", success=True),
        ],
        outcome=Outcome(success=True),
    )
    (stored,) = await store_procedures(service, [distill(trajectory)], ctx=CTX)
    memory = await service.get(stored.id)
    assert "npm_Ab3De6" not in memory.content and "npm_Ab3De6" not in str(memory.metadata)
    # Redacted as the trajectory was built: distillation never saw the token.
    assert "[redacted: npm token]" in trajectory.steps[0].action

    other = await service.remember("npm publish needs a token with publish rights", ctx=CTX)
    link = await service.link(other.id, stored.id, "related_to",
                              note=f"token was {GITHUB}", ctx=CTX)
    assert GITHUB not in link.note and "[redacted: GitHub token]" in link.note


@pytest.mark.anyio
async def test_redaction_can_be_turned_off(tmp_path: Path) -> None:
    service = await MemoryService.open(
        Settings(db=str(tmp_path / "store"), embedder="none", redact_secrets=False)
    )
    try:
        (result,) = await service.remember_many([NewMemory(content=f"token {GITHUB}")], ctx=CTX)
        assert result.redacted == [] and GITHUB in (await service.get(result.id)).content
    finally:
        await service.close()


@pytest.mark.anyio
async def test_the_remember_tool_says_what_it_took_out(tmp_path: Path) -> None:
    scope = Scope(id="repo:example.com/acme/app", kind="repo", root=None)
    runtime = Runtime(Settings(db=str(tmp_path / "store"), embedder="minilm"), scope,
                      plugins=PluginManager(entry_points=()))
    async with Client(build_server(runtime)) as client:
        answer = await client.call_tool(
            "remember", {"content": f"The release job reads GITHUB_TOKEN={GITHUB}"})
        assert not answer.is_error, answer.content
        assert answer.structured_content["redacted"] == ["GitHub token"]
        found = await client.call_tool("recall", {"query": "release job token"})
        assert GITHUB not in str(found.structured_content)


@pytest.mark.anyio
async def test_scrub_erases_secrets_stored_before_redaction(tmp_path: Path) -> None:
    db = tmp_path / "store"
    before = await MemoryService.open(
        Settings(db=str(db), embedder="minilm", redact_secrets=False)
    )
    try:
        leaky = await before.remember(f"The release job reads GITHUB_TOKEN={GITHUB}", ctx=CTX)
        other = await before.remember("Releases are tagged from main", ctx=CTX)
        await before.link(leaky.id, other.id, "related_to", note=f"uses {OPENAI}", ctx=CTX)
        await before.annotate(other.id, {"env": f"GITHUB_TOKEN={GITHUB}"}, ctx=CTX)
        await before.annotate(other.id, {"env": "none"}, ctx=CTX)  # the journal keeps the old
    finally:
        await before.close()
    assert files_containing(db, GITHUB) and files_containing(db, OPENAI)

    service = await MemoryService.open(Settings(db=str(db), embedder="minilm"))
    try:
        preview = await service.scrub_secrets(ctx=CTX)
        assert preview == {"memories": 1, "links": 1, "journal": 1, "applied": False,
                           "kinds": ["GitHub token", "OpenAI API key"]}
        assert files_containing(db, GITHUB)  # a preview changes nothing
        done = await service.scrub_secrets(apply=True, ctx=CTX)
        assert done["applied"] and done["memories"] == 1
        stored = await service.get(leaky.id)
        assert stored.content == "The release job reads GITHUB_TOKEN=[redacted: GitHub token]"
        found = await service.recall("which variable does the release job read", ctx=CTX)
        assert found.memories[0].id == leaky.id
        assert (await service.scrub_secrets(ctx=CTX))["kinds"] == []
    finally:
        await service.close()
    assert files_containing(db, GITHUB) == [] and files_containing(db, OPENAI) == []
