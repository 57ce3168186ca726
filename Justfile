# habitus tasks. `just --list` shows them all.

venv := ".venv"
python := venv / "bin/python"

# Create .venv and install habitus with its development tools (quick when nothing changed).
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    command -v uv >/dev/null || python3 -m pip install --quiet uv
    [ -x {{python}} ] || uv venv --quiet --python python3 {{venv}}
    VIRTUAL_ENV={{venv}} uv pip install --quiet -e '.[dev]'

# Serve over streamable HTTP on localhost for a person at a terminal (assistants spawn `habitus serve` over stdio).
serve port="8765": setup
    @echo "habitus listens on http://127.0.0.1:{{port}}/mcp (Ctrl-C to stop)" >&2
    @echo "Connect an assistant:  {{venv}}/bin/habitus install claude-code   (or cursor, vscode, claude-desktop, windsurf, zed)" >&2
    @echo "Or point an HTTP client at the URL above, e.g.  claude mcp add --transport http habitus http://127.0.0.1:{{port}}/mcp" >&2
    {{venv}}/bin/habitus serve --transport http --port {{port}}

# Run the whole test suite (installs what it needs first).
test *args: setup
    #!/usr/bin/env bash
    set -euo pipefail
    # The npm tests' packages, again whenever the lock file is newer than what was installed.
    installed=tests/js/node_modules/.package-lock.json
    if command -v npm >/dev/null && { [ ! -f $installed ] || [ tests/js/package-lock.json -nt $installed ]; }; then
        npm ci --prefix tests/js --silent --no-audit --no-fund || echo "npm ci --prefix tests/js failed: the npm tests will say why they skip" >&2
    fi
    {{python}} -m pytest {{args}}

# The fast tier: the tests that open no store and start no habitus process (under a minute).
test-fast *args: setup
    {{python}} -m pytest -m fast -q {{args}}

# Benchmarks at 10k memories: start-up, remember/recall on a store grown by single writes,
# recall beside its floors (LanceDB's own search on the same table), the CLI with and without a server.
bench: setup
    {{python}} bench/bench_startup.py
    {{python}} bench/bench_store.py --memories 10000
    {{python}} bench/bench_recall.py --sizes 10000 --queries 100
    {{python}} bench/bench_cli.py

# Whether a write costs the same at any size: single remembers on stores already holding 10k and
# 100k memories, in a project scope of their own and in the scope holding them all.
bench-scale: setup
    {{python}} bench/bench_store.py --preloaded 10000,100000 --writes 1000
    {{python}} bench/bench_store.py --preloaded 10000,100000 --writes 1000 --same-scope

# habitus and mcp-memory-service over MCP on the same LoCoMo workload (see bench/bench_peers.py to install the peer).
bench-peers peer data="../shared/data/locomo/locomo10.json": setup
    {{python}} bench/bench_peers.py --peer {{peer}} --data {{data}}

# Long fault campaigns: hostile arguments with the server's memory watched; 8 processes on one store; kill -9 trials.
bench-faults: setup
    {{python}} bench/bench_fuzz.py --rounds 24
    {{python}} bench/bench_faults.py --processes 8 --per-process 100 --kill-trials 32

# Recall quality on LoCoMo (full ranking and both single legs) and recall latency at 10k / 100k.
bench-recall data="../shared/data/locomo/locomo10.json": setup
    {{venv}}/bin/habitus eval locomo --data {{data}}
    {{python}} bench/bench_recall.py --sizes 10000,100000 --queries 100

# Procedural memory retrieval on ALFWorld trajectories.
bench-procedures data="../shared/data/alfworld": setup
    {{venv}}/bin/habitus eval procedures --data {{data}}

# Lint and check formatting.
lint: setup
    {{venv}}/bin/ruff check .

# Lifecycle hooks on recorded sessions: capture, injection relevance on LoCoMo, hook latency.
bench-hooks: setup
    {{python}} bench/bench_hooks.py

# The web view at 10k memories (needs Debian's chromium for the browser timing) and the CLI with and without a server.
bench-web: setup
    {{python}} bench/bench_web.py --memories 10000
    {{python}} bench/bench_cli.py
