"""The pages and actions of the web view, each a short handler over the memory service.

    GET  /search /browse /memory/ID /procedures /journal /review /store /live   pages
    GET  /events                      new memories as server-sent events (the live page)
    POST /memory/ID/ACTION            forget, restore, purge, edit, supersede, link, confirm
    POST /undo/OPERATION              undo a journaled operation

Every action is a core operation with the person as its source, so it lands in the journal.
"""

from __future__ import annotations

import difflib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from habitus.base.errors import HabitusError, NotFound
from habitus.core import decay
from habitus.core.models import CallContext, Memory
from habitus.core.project.anchors import check_anchor
from habitus.core.recall.timeparse import parse_time
from habitus.core.requests import (
    ConfirmRequest,
    ForgetRequest,
    HistoryRequest,
    LinkRequest,
    NewMemory,
    RecallRequest,
    ReflectRequest,
    UndoRequest,
)

from . import charts
from .guard import COOKIE, Guard

__all__ = ["WebView"]

log = logging.getLogger("habitus.web")

HERE = Path(__file__).parent
Handler = Callable[[Request], Awaitable[Response]]
KINDS = ("semantic", "episodic", "procedural")
ACTIONS = ("forget", "restore", "purge", "edit", "supersede", "link", "confirm")
LIVE_POLL = 1.0  # seconds between looks for new memories
SHOWN = 200  # memories listed on a page
SCOPES_FOR = 30.0  # seconds the list of scopes is reused
FACETS_FOR = 10.0  # seconds a scope's counts are reused


def _flat(memory: Memory) -> dict[str, Any]:
    """The fields `decay` reads, from a memory."""
    return {"importance": memory.importance, "access_count": memory.access_count,
            "last_access": memory.last_access, "created_at": memory.created_at}


class WebView:
    """The pages over one runtime's memory service, behind `guard`."""

    def __init__(self, service: Callable[[], Awaitable[Any]], guard: Guard,
                 workdir: str | None = None) -> None:
        self.service = service
        self.guard = guard
        self.workdir = workdir
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(default=True))
        self.templates.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M") if d else ""
        self.ctx = CallContext(project_scope="global", client="web", tool="web", source="user")
        self._scope_list: list[str] = []
        self._counted: dict[str, tuple[float, Any]] = {}
        self._scopes_at = -SCOPES_FOR

    def routes(self) -> list[tuple[str, list[str], Handler]]:
        """(path, methods, handler) for every page and action, each behind the guard."""
        pages: list[tuple[str, list[str], Handler]] = [
            ("/", ["GET"], self.home), ("/search", ["GET"], self.search),
            ("/browse", ["GET"], self.browse), ("/memory/{id}", ["GET"], self.memory),
            ("/procedures", ["GET"], self.procedures), ("/journal", ["GET"], self.journal),
            ("/review", ["GET"], self.review), ("/store", ["GET"], self.store),
            ("/live", ["GET"], self.live), ("/events", ["GET"], self.events),
            ("/memory/{id}/{action}", ["POST"], self.act), ("/undo/{op}", ["POST"], self.undo),
        ]
        return [(path, methods, self._guarded(handler)) for path, methods, handler in pages] + [
            ("/static/{name}", ["GET"], self.static)]

    # --- the guard and rendering -------------------------------------------------------------

    def _guarded(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if not self.guard.host_ok(request):
                return HTMLResponse("This page answers on this machine's own names only.", 403)
            given = request.query_params.get("token")
            if given is not None:
                if not self.guard.token_ok(given):
                    return self._signed_out(request, "That link's token is not this server's.")
                rest = {k: v for k, v in request.query_params.items() if k != "token"}
                target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
                response = RedirectResponse(target, 303)
                response.set_cookie(COOKIE, self.guard.session, httponly=True,
                                    samesite="strict", path="/")
                return response
            if not self.guard.signed_in(request):
                return self._signed_out(request, "")
            if request.method == "POST":
                form = await request.form()
                if not self.guard.same_origin(request) or not self.guard.csrf_ok(
                        str(form.get("csrf", ""))):
                    return HTMLResponse("Refused: this change did not come from a habitus page.",
                                        403)
            try:
                return await handler(request)
            except NotFound as exc:
                return self._render(request, "error.html", 404, message=str(exc))
            except (HabitusError, ValueError) as exc:
                return self._render(request, "error.html", 400, message=str(exc))

        return guarded

    def _signed_out(self, request: Request, reason: str) -> Response:
        return self._render(request, "signed_out.html", 401, reason=reason)

    def _render(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        template = self.templates.get_template(name)
        html = template.render(csrf=self.guard.csrf, path=request.url.path,
                               done=request.query_params.get("done", ""), **values)
        return HTMLResponse(html, status, headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' "
                                       "data:; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"})

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("habitus.css", "habitus.js"):
            return Response(status_code=404)
        return FileResponse(HERE / "static" / name)

    # --- pages ------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/search", 303)

    async def _scopes(self) -> list[str]:
        """The scopes that hold memories, for the pickers (counted at most every half minute:
        counting them reads the whole store)."""
        now = time.monotonic()
        if now - self._scopes_at > SCOPES_FOR:
            stats = await (await self.service()).stats()
            self._scope_list, self._scopes_at = sorted(stats.by_scope), now
        return self._scope_list

    async def search(self, request: Request) -> Response:
        params = request.query_params
        query = params.get("q", "").strip()
        scope = params.get("scope") or "all"
        kind, tag = params.get("kind", ""), params.get("tag", "")
        result, period = None, None
        if query:
            service = await self.service()
            result = await service.recall(RecallRequest(
                query=query, scope=scope, kinds=[kind] if kind else None,
                tags=[tag] if tag else None, limit=20), ctx=self.ctx)
            period = parse_time(query)
        return self._render(request, "search.html", query=query, scope=scope, kind=kind,
                            tag=tag, kinds=KINDS, scopes=await self._scopes(), result=result,
                            period=period)

    async def browse(self, request: Request) -> Response:
        params = request.query_params
        scope = params.get("scope") or "all"
        kind, tag, branch = params.get("kind", ""), params.get("tag", ""), params.get("branch", "")
        service = await self.service()
        shown = await service.recent(scope=scope, kinds=[kind] if kind else None,
                                     tags=[tag] if tag else None, branch=branch or None,
                                     limit=SHOWN, ctx=self.ctx)
        counts = await self._facets(scope)
        return self._render(request, "browse.html", memories=shown, counts=counts, scope=scope,
                            kind=kind, tag=tag, branch=branch, scopes=await self._scopes())

    async def _facets(self, scope: str) -> Any:
        """What `scope` holds, counted (reused for a few seconds: it reads the whole scope)."""
        now = time.monotonic()
        known = self._counted.get(scope)
        if known is None or now - known[0] > FACETS_FOR:
            service = await self.service()
            known = (now, await service.facets(scope=scope, ctx=self.ctx))
            self._counted[scope] = known
        return known[1]

    async def memory(self, request: Request) -> Response:
        service = await self.service()
        memory = await service.get(request.path_params["id"])
        history = await service.history(HistoryRequest(memory_id=memory.id))
        links = await service.links_of(memory.id)
        section = memory.metadata.get("habitus") or {}
        anchors = [{"spec": a.get("path", "") + (f"::{a['symbol']}" if a.get("symbol") else ""),
                    "stale": check_anchor(a, self.workdir) if self.workdir else None}
                   for a in section.get("anchors") or [] if isinstance(a, dict)]
        now = datetime.now(UTC)
        strength = [decay.strength(_flat(memory), now + timedelta(days=d)) for d in range(61)]
        versions = [(v.created_at, v.status, v.content[:80]) for v in history.versions]
        previous = self._previous_version(memory, history)
        diff = "\n".join(difflib.unified_diff(previous.splitlines(), memory.content.splitlines(),
                                              "previous version", "this version", lineterm=""))\
            if previous else ""
        return self._render(
            request, "memory.html", m=memory, history=history, links=links, anchors=anchors,
            section=section, strength_now=strength[0], diff=diff,
            strength_chart=charts.curve(strength, label="strength over the next 60 days",
                                        start="today", end="in 60 days"),
            timeline=charts.timeline(versions, label="versions of this fact"),
            metadata=json.dumps({k: v for k, v in memory.metadata.items() if k != "habitus"},
                                indent=2, ensure_ascii=False, default=str))

    @staticmethod
    def _previous_version(memory: Memory, history: Any) -> str:
        ids = [v.id for v in history.versions]
        if memory.id in ids and ids.index(memory.id) > 0:
            return str(history.versions[ids.index(memory.id) - 1].content)
        return ""

    async def procedures(self, request: Request) -> Response:
        from habitus.core.trajectory.outcomes import ProcedureRecord

        service = await self.service()
        rows = []
        for memory in await service.recent(scope="all", kinds=["procedural"], limit=500,
                                           ctx=self.ctx):
            record = ProcedureRecord.of(memory.metadata)
            rows.append({"m": memory, "record": record,
                         "task": memory.content.splitlines()[0][:160],
                         "strip": charts.outcomes([(o.at, o.success) for o in record.outcomes],
                                                  label="outcomes, oldest first")})
        return self._render(request, "procedures.html", procedures=rows)

    async def journal(self, request: Request) -> Response:
        operations = await (await self.service()).operations(limit=200)
        return self._render(request, "journal.html", operations=operations)

    async def review(self, request: Request) -> Response:
        service = await self.service()
        scopes = await self._scopes()
        scope = request.query_params.get("scope") or (scopes[0] if scopes else "global")
        bundle = await service.reflect(ReflectRequest(
            scope=scope, consolidate=True, dry_run=True, use_model=False), ctx=self.ctx)
        return self._render(request, "review.html", bundle=bundle, scope=scope, scopes=scopes)

    async def store(self, request: Request) -> Response:
        service = await self.service()
        stats = await service.stats()
        per_day = (await self._facets("all")).days
        days: list[tuple[str, int]] = []
        if per_day:
            last = datetime.now(UTC).date()
            first = max(datetime.fromisoformat(min(per_day)).date(), last - timedelta(days=89))
            while first <= last:
                key = first.isoformat()
                days.append((key, per_day.get(key, 0)))
                first += timedelta(days=1)
        size = sum(p.stat().st_size for p in Path(stats.path).rglob("*") if p.is_file()) \
            if Path(stats.path).is_dir() else None
        return self._render(request, "store.html", stats=stats, size=size,
                            embedder=service.embedder_status,
                            chart=charts.bars(days, label="memories stored per day"))

    async def live(self, request: Request) -> Response:
        recent = await (await self.service()).recent(scope="all", limit=30, ctx=self.ctx)
        return self._render(request, "live.html", memories=recent)

    async def events(self, request: Request) -> Response:
        service = await self.service()
        seen = {m.id for m in await service.recent(scope="all", limit=200, ctx=self.ctx)}

        async def stream() -> AsyncIterator[str]:
            yield ": habitus live\n\n"
            quiet = 0.0
            while not await request.is_disconnected():
                await anyio.sleep(LIVE_POLL)
                fresh = [m for m in await service.recent(scope="all", limit=50, ctx=self.ctx)
                         if m.id not in seen]
                for memory in reversed(fresh):
                    seen.add(memory.id)
                    yield "data: " + json.dumps({
                        "id": memory.id, "kind": memory.kind, "scope": memory.scope,
                        "content": memory.content[:500], "source": memory.source,
                        "at": memory.created_at.strftime("%Y-%m-%d %H:%M:%S")}) + "\n\n"
                quiet = 0.0 if fresh else quiet + LIVE_POLL
                if quiet >= 15:
                    yield ": still here\n\n"
                    quiet = 0.0

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    # --- actions ----------------------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        memory_id, action = request.path_params["id"], request.path_params["action"]
        if action not in ACTIONS:
            return Response(status_code=404)
        form = await request.form()
        service = await self.service()
        done = action
        if action == "forget":
            await service.forget(ForgetRequest(ids=[memory_id]), ctx=self.ctx)
        elif action == "restore":
            await service.forget(ForgetRequest(ids=[memory_id], restore=True), ctx=self.ctx)
        elif action == "purge":
            if str(form.get("confirm_id", "")).strip() != memory_id:
                raise HabitusError("to erase a memory for good, type its id into the box")
            await service.forget(ForgetRequest(ids=[memory_id], purge=True), ctx=self.ctx)
            return RedirectResponse("/journal?done=erased", 303)
        elif action == "edit":
            tags = [t.strip() for t in str(form.get("tags", "")).split(",") if t.strip()]
            await service.edit(memory_id, tags=tags,
                               importance=float(str(form.get("importance", "0.5"))), ctx=self.ctx)
        elif action == "supersede":
            old = await service.get(memory_id)
            new = await service.remember(NewMemory(
                content=str(form.get("content", "")), kind=old.kind, tags=old.tags,
                scope=old.scope, supersedes=[memory_id]), ctx=self.ctx)
            return RedirectResponse(f"/memory/{new.id}?done=superseded", 303)
        elif action == "link":
            await service.link(LinkRequest(
                source=memory_id, target=str(form.get("target", "")).strip(),
                relation=str(form.get("relation", "related_to"))), ctx=self.ctx)
        elif action == "confirm":
            await service.confirm(ConfirmRequest(ids=[memory_id]), ctx=self.ctx)
        return RedirectResponse(f"/memory/{memory_id}?done={done}", 303)

    async def undo(self, request: Request) -> Response:
        result = await (await self.service()).undo(
            UndoRequest(operation=request.path_params["op"]), ctx=self.ctx)
        return RedirectResponse(f"/journal?done=undid+{result.operation}", 303)
