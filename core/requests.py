"""One typed request per operation: its fields are the operation's options, each declared once
with its type, bounds (from `limits`), default and description.

Every way in builds the request and the service takes it: the MCP tools' parameters are its
fields (`server/tools.py`), the command line's arguments and options too (`cli/options.py`),
the HTTP API validates a body against it (`server/api_route.py`), and the web view fills it
from its forms. The pipelines read its typed fields.

A field shows on every surface unless it says otherwise beside its type: `NotOn(...)` leaves
it out of a surface (with the reason), `Cli(...)` spells it differently on the command line.
`tests/test_requests.py` holds every other field to every surface.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Self, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, Strict, ValidationError
from pydantic.fields import FieldInfo

from habitus.base.errors import InvalidInput
from habitus.core.decay import DECAYED_BELOW
from habitus.core.kinds import Kind, Relation
from habitus.core.limits import LIMITS
from habitus.core.project.scope import MAX_SCOPE_LENGTH

__all__ = [
    "Surface",
    "NotOn",
    "Cli",
    "Request",
    "marker",
    "IdStr",
    "TagStr",
    "ScopeArg",
    "Leg",
    "LEGS",
    "LinkSpec",
    "NewMemory",
    "BatchMemory",
    "RecallRequest",
    "ReflectRequest",
    "ForgetRequest",
    "LinkRequest",
    "HistoryRequest",
    "UndoRequest",
    "ConfirmRequest",
    "REQUESTS",
]

Surface = Literal["mcp", "cli"]
T = TypeVar("T")


@dataclass(frozen=True, init=False)
class NotOn:
    """A field a surface leaves out on purpose, and why."""

    surfaces: frozenset[Surface]
    why: str

    def __init__(self, *surfaces: Surface, why: str) -> None:
        object.__setattr__(self, "surfaces", frozenset(surfaces))
        object.__setattr__(self, "why", why)


@dataclass(frozen=True)
class Cli:
    """How the command line spells a field where the default does not fit. By default a
    required field is a positional argument and any other an option `--field-name` of the
    field's type: a flag for a boolean (`--x/--no-x` when it defaults to true), repeatable for
    a list, with the field's description as its help."""

    flag: str | None = None  # the option's declaration, e.g. "--budget" or "--dry-run/--yes"
    argument: bool = False  # a positional argument although optional
    comma_separated: bool = False  # a list given as one comma-separated value
    help: str | None = None  # where the description speaks in MCP terms, or there is none


class Request(BaseModel):
    """An operation's options. An invalid request raises `InvalidInput` naming the option, the
    same from every caller; an unknown option is refused."""

    # Validators are built on first use: a command builds only its own request.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidInput(_explain(exc)) from None

    @classmethod
    def of(cls, *values: Any, **fields: Any) -> Self:
        """The request as given (`of(request)`), or built from its fields: positional values
        fill the fields in their declared order (`of("query text", limit=5)`)."""
        if len(values) == 1 and isinstance(values[0], cls) and not fields:
            return values[0]
        names = list(cls.model_fields)
        if len(values) > len(names):
            raise InvalidInput(f"{cls.__name__} takes at most {len(names)} values in order")
        given = dict(zip(names, values, strict=False))
        twice = sorted(given.keys() & fields.keys())
        if twice:
            raise InvalidInput(f"{twice[0]} is given twice")
        return cls(**given, **fields)

    @classmethod
    def fields_on(cls, surface: Surface) -> dict[str, FieldInfo]:
        """The fields `surface` offers, in declared order."""
        return {name: field for name, field in cls.model_fields.items()
                if surface not in getattr(marker(field, NotOn), "surfaces", ())}


def marker(field: FieldInfo, kind: type[T]) -> T | None:
    """The `kind` marker (`NotOn`, `Cli`) declared beside a field's type, if any."""
    return next((m for m in field.metadata if isinstance(m, kind)), None)


def _explain(exc: ValidationError) -> str:
    """What is wrong with a request, one clause per problem, each naming its option."""
    problems = []
    for error in exc.errors(include_url=False):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])[1:]
        kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
        if kind == "missing":
            problems.append(f"{where} is required")
        elif kind == "extra_forbidden":
            problems.append(f"unknown option {where!r}")
        elif kind == "string_too_short" and ctx.get("min_length") == 1:
            problems.append(f"{where} is empty")
        elif kind == "string_too_long":
            problems.append(f"{where} has {len(value)} characters, more than {ctx['max_length']}")
        elif kind == "too_long":
            problems.append(f"at most {ctx['max_length']} {where}, got {ctx['actual_length']}")
        elif kind == "literal_error":
            problems.append(f"unknown {where} {value!r}; use one of {ctx['expected']}")
        else:
            message = error["msg"]
            problems.append(f"{where}: {message[:1].lower()}{message[1:]}")
    return "; ".join(problems)


IdStr = Annotated[
    str, Field(min_length=1, max_length=LIMITS["id_chars"], description="A memory id.")
]
TagStr = Annotated[str, Field(min_length=1, max_length=LIMITS["tag_chars"])]
ScopeArg = Annotated[
    str | None,
    Field(
        max_length=MAX_SCOPE_LENGTH,
        description="Scope id. Default: the current project for writes; project + 'global' for "
        "reads. 'global' is shared by all projects; 'all' reads every scope.",
    ),
]
Leg = Literal["lexical", "vector"]
LEGS: tuple[Leg, ...] = get_args(Leg)


class LinkSpec(BaseModel):
    """An edge to create from the new memory."""

    target: IdStr
    relation: Relation = "related_to"


class NewMemory(Request):
    """A memory to store: what `remember` takes, and each item of `remember_many`."""

    content: Annotated[
        str,
        Field(
            min_length=1,
            max_length=LIMITS["content_chars"],
            description="The memory, self-contained: one fact, decision, event or procedure.",
        ),
    ]
    kind: Annotated[
        Kind,
        Field(
            description="'episodic' (what happened), 'semantic' "
            "(facts, conventions) or 'procedural' (how to)."
        ),
    ] = "semantic"
    tags: Annotated[
        list[TagStr], Field(max_length=LIMITS["tags"]), Cli(comma_separated=True)
    ] = Field(default_factory=list)
    scope: ScopeArg = None
    importance: Annotated[
        float, Strict(), Field(ge=0, le=1, description="0 trivial … 1 critical.")
    ] = 0.5
    derived_from: Annotated[
        list[IdStr],
        Field(max_length=LIMITS["sources"], description="Ids this memory was distilled from."),
    ] = Field(default_factory=list)
    links: Annotated[
        list[LinkSpec],
        Field(max_length=LIMITS["links"]),
        NotOn("cli", why="edges are objects; `habitus link` adds them one by one"),
    ] = Field(default_factory=list)
    supersedes: Annotated[
        list[IdStr],
        Field(
            max_length=LIMITS["sources"],
            description="Ids of older versions this replaces; they stay as history.",
        ),
    ] = Field(default_factory=list)
    anchors: Annotated[
        list[Annotated[str, Field(max_length=LIMITS["anchor_chars"])]],
        Field(
            max_length=LIMITS["anchors"],
            description="Code this is about, repository-relative: 'path', "
            "'path::symbol' or 'path:10-20'. Recall flags the memory stale when it changes.",
        ),
        Cli(flag="--anchor"),
    ] = Field(default_factory=list)
    dedup: Annotated[
        bool,
        Field(description="Detect near-duplicates and new versions of existing memories."),
        NotOn("mcp", why="what an assistant writes always goes through duplicate detection"),
    ] = True
    metadata: Annotated[
        dict[str, Any],
        NotOn("mcp", "cli", why="bookkeeping of plugins, imports and hooks"),
    ] = Field(default_factory=dict)
    occurred_at: Annotated[
        datetime | None,
        Field(description="When it happened; default: now."),
        NotOn("mcp", "cli", why="set by imports and evaluations that replay the past"),
    ] = None
    _redacted: list[str] = PrivateAttr(default_factory=list)  # kinds of secret taken out


class BatchMemory(NewMemory):
    """An item of `remember_many` whose content may be longer than one memory holds (a
    pasted document in an import or a conversation): it is stored in linked parts, or refused
    alone when too long even for those (`remember.parts`)."""

    content: Annotated[
        str,
        Field(min_length=1, description="The memory, of any length: parts when it is long."),
    ]


class RecallRequest(Request):
    """A search of memory: what to look for, where, and how much to return."""

    query: Annotated[
        str,
        Field(
            min_length=1,
            max_length=LIMITS["query_chars"],
            description="What you are looking for, in words, identifiers, "
            "paths or error messages.",
        ),
    ]
    kinds: Annotated[
        list[Kind] | None, Field(description="Only these kinds."), Cli(flag="--kind")
    ] = None
    tags: Annotated[
        list[TagStr] | None,
        Field(max_length=LIMITS["tags"], description="Only memories with any of these tags."),
        Cli(comma_separated=True),
    ] = None
    scope: ScopeArg = None
    since: Annotated[
        datetime | None,
        Field(description="Only memories stored at or after this time (ISO 8601)."),
    ] = None
    until: Annotated[
        datetime | None, Field(description="Only memories stored before this time (ISO 8601).")
    ] = None
    limit: Annotated[int, Strict(), Field(ge=1, le=LIMITS["recall_limit"])] = 10
    token_budget: Annotated[
        int | None, Strict(),
        Field(
            ge=1,
            le=LIMITS["token_budget"],
            description="Return only whole memories that fit in this many tokens.",
        ),
        Cli(flag="--budget"),
    ] = None
    as_of: Annotated[
        datetime | None,
        Field(description="Answer from memory as it was at this time (ISO 8601)."),
    ] = None
    now: Annotated[
        datetime | None,
        Field(description="When the question is asked (ISO 8601; default: the clock): 'last "
              "week', '3 days ago' and recency count from it. Unlike as_of, hides nothing."),
    ] = None
    include_history: Annotated[
        bool, Strict(),
        Field(description="Also return superseded versions (ranked lower, with superseded_by)."),
        Cli(flag="--history"),
    ] = False
    follow_links: Annotated[
        bool, Strict(),
        Field(
            description="Add memories linked to the top "
            "results (one hop, lower score, with via)."
        ),
    ] = False
    legs: Annotated[
        list[Leg] | None,
        Field(description="Only these search legs (default: all of them)."),
        NotOn("mcp", "cli", why="for ablations and diagnostics (habitus eval)"),
    ] = None


class ReflectRequest(Request):
    """A reflection: the evidence to gather, and whether to plan or write consolidations."""

    scope: ScopeArg = None
    topic: Annotated[
        str | None,
        Field(max_length=LIMITS["query_chars"],
              description="Gather memories about this topic too."),
    ] = None
    since: Annotated[
        datetime | None, Field(description="Recent episodes since this time (default: 7 days).")
    ] = None
    consolidate: Annotated[
        bool, Strict(),
        Field(
            description="Also plan consolidations (merged "
            "near-duplicates, summaries of related episodes, or "
            "the drafting model's memories) as `actions`, each "
            "derived from its sources."
        ),
    ] = False
    dry_run: Annotated[
        bool, Strict(),
        Field(
            description="With consolidate: only show the planned "
            "actions. false writes them (sources are kept and "
            "linked derived_from)."
        ),
        Cli(flag="--dry-run/--apply", help="Only show the planned consolidations, or write them "
            "(--apply implies --consolidate). Sources are never deleted."),
    ] = True
    use_model: Annotated[
        bool,
        Field(description="Draft with the configured model (HABITUS_LLM_URL, HABITUS_LLM_MODEL) "
              "if set."),
        Cli(flag="--model/--no-model"),
        NotOn("mcp", why="over MCP the client's own model drafts, through sampling"),
    ] = True
    limit: Annotated[
        int,
        Field(ge=1, le=LIMITS["recall_limit"], description="Memories per group, at most."),
        NotOn("mcp", "cli", why="a fixed size that keeps the evidence readable"),
    ] = 20
    draft: Annotated[
        str | None,
        Field(description="The consolidations the client's model drafted (MCP sampling)."),
        NotOn("mcp", "cli", why="asked of the client's model during the call, never given"),
    ] = None


class ForgetRequest(Request):
    """A forgetting: by ids, by search or by decay; soft (undoable) unless purged."""

    ids: Annotated[
        list[IdStr] | None,
        Field(max_length=LIMITS["ids"], description="Ids of the memories to forget."),
        Cli(argument=True),
    ] = None
    query: Annotated[
        str | None,
        Field(
            max_length=LIMITS["query_chars"],
            description="Forget what this "
            "search finds instead (previewed unless dry_run=false).",
        ),
        Cli(help="Forget what this search finds (previewed unless --yes)."),
    ] = None
    kinds: Annotated[
        list[Kind] | None, Cli(flag="--kind", help="With --query: only these kinds.")
    ] = None
    tags: Annotated[
        list[TagStr] | None,
        Field(max_length=LIMITS["tags"]),
        Cli(comma_separated=True, help="With --query: only memories with any of these tags."),
    ] = None
    scope: ScopeArg = None
    purge: Annotated[
        bool, Strict(),
        Field(description="Erase for good instead of the default, undoable soft delete."),
    ] = False
    dry_run: Annotated[
        bool | None, Strict(),
        Field(
            description="Only show what would be forgotten. "
            "Default: true for a query, false for ids."
        ),
        Cli(flag="--dry-run/--yes", help="Only show what would be forgotten, or forget without "
            "a preview. Default: preview a --query or --decayed, forget IDS."),
    ] = None
    decayed: Annotated[
        bool, Strict(),
        Field(
            description="Archive memories whose strength has faded "
            "below threshold (previewed unless dry_run=false)."
        ),
        Cli(help="Archive memories whose strength has faded below --threshold (previewed "
            "unless --yes)."),
    ] = False
    threshold: Annotated[
        float, Strict(), Field(gt=0, lt=1, description="Strength threshold for decayed.")
    ] = DECAYED_BELOW
    restore: Annotated[
        bool, Strict(),
        Field(description="Bring back the memories `ids` forgotten by a soft delete."),
        Cli(help="Bring back IDS, forgotten by a soft delete."),
    ] = False
    limit: Annotated[
        int,
        Field(ge=1, le=LIMITS["recall_limit"],
              description="How many memories a query or decayed previews."),
        NotOn("mcp", "cli", why="a preview's fixed size"),
    ] = 20


class LinkRequest(Request):
    """A typed edge between two memories."""

    source: IdStr
    target: IdStr
    relation: Relation = "related_to"
    note: Annotated[str, Field(max_length=LIMITS["note_chars"])] = ""


class HistoryRequest(Request):
    """The timeline of a fact."""

    memory_id: IdStr


class UndoRequest(Request):
    """The operation to revert."""

    operation: Annotated[
        str | None,
        Field(max_length=LIMITS["id_chars"],
              description="A journaled operation's id; default: the last one."),
        Cli(argument=True),
    ] = None


class ConfirmRequest(Request):
    """Memories a person vouches for."""

    ids: Annotated[list[IdStr], Field(max_length=LIMITS["ids"])]


# Each operation of the service → its request.
REQUESTS: dict[str, type[Request]] = {
    "remember": NewMemory,
    "recall": RecallRequest,
    "reflect": ReflectRequest,
    "forget": ForgetRequest,
    "link": LinkRequest,
    "history": HistoryRequest,
    "undo": UndoRequest,
    "confirm": ConfirmRequest,
}
