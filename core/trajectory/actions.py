"""What an agent's action is: the kind of a shell command or editor tool call, whether its
output says it failed, and what makes two runs "the same command".

Used wherever actions are read: the hooks that follow a session (a failed command and the one
that fixed it), and distillation, which keeps a trajectory's critical steps.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence

__all__ = [
    "FILE_READERS", "classify", "observation_failed", "command_key", "exception_names",
    "split_command", "first_line", "positional",
]

_LOOK = frozenset(
    {
        "ls",
        "pwd",
        "cd",
        "scroll_up",
        "scroll_down",
        "goto",
        "set_cursors",
        "clear",
        "whoami",
        "todowrite",
        "tree",
        "history",
        "exit",
        "exit_forfeit",
        "exitplanmode",
    }
)
_SEARCH = frozenset(
    {
        "find_file",
        "search_dir",
        "search_file",
        "grep",
        "rg",
        "ag",
        "ack",
        "find",
        "fd",
        "glob",
        "websearch",
    }
)
_READ = frozenset(
    {
        "open",
        "read",
        "cat",
        "head",
        "tail",
        "less",
        "more",
        "nl",
        "xxd",
        "hexdump",
        "strings",
        "file",
        "decompile",
        "disassemble",
        "objdump",
        "readelf",
        "webfetch",
        "view",
        "notebookread",
    }
)
_EDIT = frozenset(["edit", "multiedit", "str_replace", "insert", "append", "notebookedit", "patch"])
_CREATE = {"create", "write", "touch"}
_CLEANUP = {"rm", "unlink", "rmdir"}
_INSTALLERS = {"pip", "pip3", "apt", "apt-get", "conda", "brew", "mamba"}
_INSTALL_VERBS = {"install", "add", "i", "sync", "get", "ci"}
_PACKAGE_MANAGERS = {"npm", "yarn", "pnpm", "uv", "poetry", "cargo", "go", "bundle", "gem"}
_GIT_LOOK = {"status", "diff", "log", "show", "branch", "blame"}
_MEMORY_SERVERS = {"habitus", "memory", "mem0", "basic-memory", "mcp-memory-service"}
_MEMORY_TOOLS = {"remember", "recall", "forget", "reflect", "link", "find_procedures",
                 "report_outcome", "submit_trajectory", "create_entities", "add_observations",
                 "search_nodes", "read_graph", "store_memory", "retrieve_memory"}
_RUNNERS = {"python", "python3", "node", "bash", "sh", "ruby", "perl", "sage"}

# Observations that mean the action itself failed (checked on all but reads).
_FAILURE_PATTERNS = re.compile(
    r"Your proposed edit has introduced new syntax error|Traceback \(most recent call last\)"
    r"|command not found|No such file|Wrong flag!|EXECUTION TIMED OUT"
    r"|PLEASE REFINE YOUR RUNNING COMMAND|^No matches found|^Error: |^error: |<tool_use_error>"
    r"|^Exit code [1-9]|^\w*Error: |FAILED \(|\d+ failed|^ERROR: |Usage: |usage: ",
    re.MULTILINE,
)
# For reads the observation is file content, so only a missing file counts as a failure.
_READ_FAILURE_PATTERNS = re.compile(
    r"No such file|^File .* not found|does not exist|<tool_use_error>", re.MULTILINE
)
# Readers whose target is a file: a second read of the same file adds nothing.
FILE_READERS = frozenset(["open", "read", "cat", "head", "tail", "less", "more", "nl", "view"])
_EXCEPTION = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception|Warning)\b")


def split_command(line: str) -> list[str]:
    """The shell-like tokens of one command line, without leading `VAR=value` and `cd … &&`."""
    try:
        tokens = shlex.split(line, posix=True)
    except ValueError:
        tokens = line.split()
    while tokens and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", tokens[0]):
        tokens = tokens[1:]  # leading environment assignments
    if "&&" in tokens and tokens[0] == "cd":
        tokens = tokens[tokens.index("&&") + 1 :]
    return tokens


def positional(tokens: Sequence[str]) -> list[str]:
    """The arguments of a command that are not options."""
    return [t for t in tokens[1:] if not t.startswith("-")]


def first_line(action: str) -> tuple[str, str]:
    """An action's first line (the command) and the rest (an edit's text, a heredoc)."""
    lines = action.strip().splitlines() or [""]
    return lines[0].strip(), "\n".join(lines[1:])


def classify(action: str) -> tuple[str, list[str]]:
    """The kind of an action and its shell-like tokens.

    Kinds: look, search, read, edit, create, run, setup, cleanup, submit, memory (a memory
    server's own tools: recalling is not a step of the task), other.
    """
    first, _ = first_line(action)
    tokens = split_command(first)
    if not tokens:
        return "other", tokens
    verb = os.path.basename(tokens[0]).lower().rstrip(":")
    args = tokens[1:]
    if verb.startswith("mcp__"):  # an MCP tool, as Claude Code names them: mcp__server__tool
        server, _, tool = verb[5:].partition("__")
        memory = server in _MEMORY_SERVERS or tool in _MEMORY_TOOLS
        return ("memory" if memory else "other"), tokens
    if verb == "str_replace_editor" and args:
        sub = {"view": "read", "create": "create", "undo_edit": "edit"}.get(args[0], "edit")
        return sub, [tokens[0], *args[1:]]
    if verb == "git":
        return ("look" if args and args[0] in _GIT_LOOK else "other"), tokens
    if verb == "sed" and any(a.startswith("-i") for a in args):
        return "edit", tokens
    if verb in _INSTALLERS or (verb in _PACKAGE_MANAGERS and args and args[0] in _INSTALL_VERBS):
        return "setup", tokens
    if verb in _RUNNERS and args[:2] == ["-m", "pip"]:
        return "setup", tokens
    for kind, verbs in (
        ("look", _LOOK),
        ("search", _SEARCH),
        ("read", _READ),
        ("edit", _EDIT),
        ("create", _CREATE),
        ("cleanup", _CLEANUP),
    ):
        if verb in verbs:
            return kind, tokens
    if verb == "submit":
        return "submit", tokens
    if verb == "echo" and "|" not in tokens and ">" not in first:
        return "look", tokens
    return "run", tokens


def observation_failed(action: str, observation: str) -> bool:
    """Whether an observation says the action failed (an error, a rejected edit, no match)."""
    kind, _ = classify(action)
    head = observation[:4000]
    if kind == "read":
        return bool(_READ_FAILURE_PATTERNS.search(head))
    return bool(_FAILURE_PATTERNS.search(head))


def command_key(tokens: Sequence[str]) -> str:
    """What identifies "the same command" across reruns: the program and its first target."""
    if not tokens:
        return ""
    program = os.path.basename(tokens[0])
    rest = list(tokens[1:])
    if program.startswith("python") and rest[:1] == ["-m"] and len(rest) > 1:
        program, rest = f"{program} -m {rest[1]}", rest[2:]
    elif program in ("uv", "poetry", "npx", "pipenv") and rest[:1] == ["run"] and len(rest) > 1:
        program, rest = rest[1], rest[2:]
    target = next((t for t in rest if not t.startswith("-")), "")
    return f"{program} {target}".strip()


def exception_names(text: str, limit: int = 3) -> list[str]:
    """Exception class names mentioned in a text (e.g. `SyntaxError`), first ones first."""
    names: list[str] = []
    for name in _EXCEPTION.findall(text):
        if name not in names:
            names.append(name)
    return names[:limit]
