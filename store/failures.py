"""The store's edge: whatever LanceDB or pyarrow raise inside a store operation leaves it as a
`StoreError` that says what failed and what to do, the original kept as its `__cause__`.

LanceDB reports a missing file, a refused commit or a corrupt table with builtin exceptions
(`OSError`, `RuntimeError`, `ValueError`, ...) whose text is its own; above the store they would
read as bugs ("internal error"), so every public operation is wrapped with `operation`.
Errors habitus raises on purpose (`HabitusError`, e.g. an unknown column) pass unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from habitus.base.errors import HabitusError, StoreError

__all__ = ["operation", "failure"]

P = ParamSpec("P")
T = TypeVar("T")


class _Located(Protocol):
    @property
    def uri(self) -> str: ...


S = TypeVar("S", bound=_Located)


def failure(uri: str, action: str, exc: BaseException) -> StoreError:
    """The `StoreError` for `exc`, met while trying to `action` in the store at `uri`."""
    if "://" in uri:
        advice = ("check the URI, the credentials and the network (`habitus doctor` tries the "
                  "store)")
    else:
        advice = ("check that the folder exists and that this user can read and write it "
                  "(`habitus doctor` tries the store); if it was moved or deleted, restart "
                  "habitus so it opens the store again")
    return StoreError(
        f"the store at {uri} could not {action} ({type(exc).__name__}: {exc}); {advice}")


def operation(
    action: str,
) -> Callable[[Callable[Concatenate[S, P], Awaitable[T]]],
              Callable[Concatenate[S, P], Awaitable[T]]]:
    """Wrap a public async store method: LanceDB's errors become `StoreError` (`action` says
    what the method does, as in "could not `action`")."""

    def wrap(
        method: Callable[Concatenate[S, P], Awaitable[T]],
    ) -> Callable[Concatenate[S, P], Awaitable[T]]:
        @functools.wraps(method)
        async def guarded(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return await method(self, *args, **kwargs)
            except HabitusError:
                raise
            except Exception as exc:
                raise failure(self.uri, action, exc) from exc

        return guarded

    return wrap
