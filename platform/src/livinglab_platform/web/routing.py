"""Pages answer errors as pages: no sign-in leads to the sign-in page, other errors to a
friendly page in the person's language (the API answers the same errors as JSON)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from livinglab_platform.core.errors import (
    AuthenticationError,
    NotFoundError,
    PlatformError,
)
from livinglab_platform.web.render import redirect, render
from livinglab_platform.web.session import CsrfError

__all__ = ["PageRoute", "error_page"]

_TITLED = (400, 403, 404, 409)


def error_page(request: Request, exc: PlatformError) -> Response:
    """The page for a refused request: what happened, in words, and the way back."""
    status = exc.status if exc.status in _TITLED else 500
    key = "csrf" if isinstance(exc, CsrfError) else str(status)
    return render(
        request,
        "error.html",
        status_code=status,
        title_id=f"error.{key}.title",
        text_id=f"error.{key}.text",
        detail=str(exc) if status != 500 else "",
    )


def _rollback(request: Request) -> None:
    conn = getattr(request.state, "conn", None)
    if conn is not None:
        conn.rollback()


class PageRoute(APIRoute):
    """A route of the web pages, answering its errors in HTML."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthenticationError:
                await run_in_threadpool(_rollback, request)
                return redirect(request, "/")
            except RequestValidationError:
                # Only path parameters are typed (a trial id that is not a number): no such page.
                await run_in_threadpool(_rollback, request)
                return await run_in_threadpool(
                    error_page, request, NotFoundError("no such page")
                )
            except PlatformError as exc:
                await run_in_threadpool(_rollback, request)
                return await run_in_threadpool(error_page, request, exc)

        return page
