"""The web view at size: time to first render of a search, and of the other pages, on a store of
--memories memories, in Debian's Chromium (Playwright) and as plain HTTP (server time only).

    python bench/bench_web.py [--memories 10000] [--queries 20]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import anyio

from habitus.core.config import Settings
from habitus.core.models import CallContext, NewMemory
from habitus.core.service import MemoryService

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import fact  # noqa: E402

TOKEN = "bench-web-token-0123456789abcdef"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fill(db: str, count: int) -> list[str]:
    rng = random.Random(7)
    service = await MemoryService.open(Settings(db=db))
    ctx = CallContext(project_scope="repo:example.com/acme/shop", client="bench")
    texts = [fact(i, rng) for i in range(count)]
    started = time.perf_counter()
    for at in range(0, count, 500):
        await service.remember_many([NewMemory(content=t, dedup=False)
                                     for t in texts[at:at + 500]], ctx=ctx)
    print(f"stored {count} memories in {time.perf_counter() - started:.0f} s", flush=True)
    await service.close()
    return [t.split(" (")[0] for t in rng.sample(texts, 50)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "store")
        queries = anyio.run(fill, db, args.memories)[: args.queries]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "HABITUS_TOKEN": TOKEN, "LANCE_LOG": "error",
               "XDG_RUNTIME_DIR": tmp, "XDG_STATE_HOME": tmp}
        server = subprocess.Popen([sys.executable, "-m", "habitus.cli", "--db", db, "serve",
                                   "--transport", "http", "--port", str(port)], env=env,
                                  stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"{base}/static/habitus.css", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
            opener.open(f"{base}/search?token={TOKEN}").read()
            opener.open(f"{base}/search?q=warm+up").read()  # the store opens, the model loads
            http: list[float] = []
            for query in queries:
                started = time.perf_counter()
                opener.open(f"{base}/search?q={urllib.parse.quote(query)}").read()
                http.append(1000 * (time.perf_counter() - started))
            pages = {}
            for path in ("/browse", "/store", "/journal", "/procedures", "/live"):
                started = time.perf_counter()
                opener.open(base + path).read()
                pages[path] = 1000 * (time.perf_counter() - started)
            print(f"\nsearch at {args.memories} memories, server render (HTTP, {len(http)} "
                  f"queries): p50 {pct(http, 0.5):.0f} ms, p95 {pct(http, 0.95):.0f} ms")
            print("other pages (HTTP): " + ", ".join(f"{p} {t:.0f} ms" for p, t in pages.items()))
            if chromium is None:
                print("(no chromium: browser timing skipped)")
                return
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
                page = browser.new_page()
                page.goto(f"{base}/search?token={TOKEN}")
                paint: list[float] = []
                wall: list[float] = []
                for query in queries:
                    started = time.perf_counter()
                    page.goto(f"{base}/search?q={urllib.parse.quote(query)}")
                    wall.append(1000 * (time.perf_counter() - started))
                    timing = page.evaluate(
                        "[...performance.getEntriesByType('paint').map(e => e.startTime),"
                        " performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd]")
                    paint.append(timing[0])
                browser.close()
            print(f"search in Chromium: first paint p50 {pct(paint, 0.5):.0f} ms, "
                  f"p95 {pct(paint, 0.95):.0f} ms; navigation to load p50 "
                  f"{pct(wall, 0.5):.0f} ms, p95 {pct(wall, 0.95):.0f} ms")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
