"""The command line's calls over HTTP: `POST /api/OPERATION` runs one operation of the memory
service for a `habitus` command, so a shell command answers in milliseconds while a server runs
for its store instead of opening the store itself.

Only this machine's user may call: the request must name this machine as its Host and carry the
user's access token (the file only the user can read). The body's `args` are the operation's
request (validated against its model: an unknown or malformed option is refused), `ctx` the
caller's own context (the project of its working directory); the answer is the operation's
result as JSON.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from mcp.server import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from habitus.base.errors import HabitusError
from habitus.core.models import CallContext
from habitus.core.requests import REQUESTS
from habitus.core.requests import Request as OperationRequest

from .hook_route import bounded_body, local_only
from .runtime import Runtime

__all__ = ["add_api_route", "OPERATIONS"]

log = logging.getLogger("habitus.server")

# The operations the command line sends here → their request (None: it takes none).
OPERATIONS: dict[str, type[OperationRequest] | None] = {
    "recall": REQUESTS["recall"],
    "remember": REQUESTS["remember"],
    "stats": None,
}
MAX_BODY = 1024 * 1024


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def add_api_route(server: MCPServer[Any], runtime: Runtime, token: str) -> None:
    """Serve `POST /api/OPERATION` on `server`'s HTTP app for callers holding `token`."""
    expected = f"Bearer {token}".encode()

    async def api(request: Request) -> Response:
        refusal = local_only(request)
        if refusal:
            return JSONResponse({"error": refusal}, status_code=403)
        given = (request.headers.get("authorization") or "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"error": "missing or wrong access token"}, status_code=401)
        operation = request.path_params["operation"]
        if operation not in OPERATIONS:
            return JSONResponse({"error": f"no operation {operation!r}"}, status_code=404)
        body = await bounded_body(request, MAX_BODY)
        if body is None:
            return JSONResponse({"error": "request too large"}, status_code=413)
        request_type = OPERATIONS[operation]
        try:
            data = json.loads(body) if body else {}
            service = await runtime.service()
            if request_type is None:
                result = await getattr(service, operation)()
            else:
                options = request_type(**(data.get("args") or {}))
                ctx = CallContext(**(data.get("ctx") or {}))
                result = await getattr(service, operation)(options, ctx=ctx)
        except HabitusError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": f"bad request: {exc}"}, status_code=400)
        return JSONResponse(_plain(result))

    server.custom_route("/api/{operation}", methods=["POST"], include_in_schema=False)(api)
