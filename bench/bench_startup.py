"""Start-up: time from spawning `habitus serve` (stdio) to `tools/list` answered.

Compared side by side with a trivial MCPServer of one tool, started the same way, so the
figure can be read on any machine as a ratio as well as in seconds.

    python bench/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.servers import habitus_command, server_env  # noqa: E402

TRIVIAL = """
from mcp.server import MCPServer
server = MCPServer("trivial")
@server.tool()
def ping() -> str:
    '''Answer pong.'''
    return "pong"
server.run()
"""


async def time_to_tools(params: StdioServerParameters) -> float:
    started = time.perf_counter()
    async with Client(params) as client:
        await client.list_tools()
        return time.perf_counter() - started


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store"
        cmd = habitus_command()
        habitus = StdioServerParameters(
            command=cmd[0], args=[*cmd[1:], "--db", str(db), "serve"], env=server_env()
        )
        trivial = StdioServerParameters(
            command=sys.executable, args=["-c", TRIVIAL], env=server_env()
        )
        await time_to_tools(habitus)  # first run creates the store and warms the file cache
        ours = [await time_to_tools(habitus) for _ in range(runs)]
        base = [await time_to_tools(trivial) for _ in range(runs)]
    m_ours, m_base = statistics.median(ours), statistics.median(base)
    print(f"spawn -> tools/list answered, median of {runs}:")
    print(f"  habitus serve       {m_ours:.3f} s  (min {min(ours):.3f}, max {max(ours):.3f})")
    print(f"  trivial MCPServer   {m_base:.3f} s  (min {min(base):.3f}, max {max(base):.3f})")
    print(f"  ratio               {m_ours / m_base:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    anyio.run(main, parser.parse_args().runs)
