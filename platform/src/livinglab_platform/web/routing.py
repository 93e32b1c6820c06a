"""Pages answer errors as pages: no sign-in leads to the sign-in page, other errors to a
friendly page in the person's language (the API answers the same errors as JSON).

The application's error handlers ask `is_page` and call `page_error`. They run after the page's
unit of work has rolled back, so a refused page never leaves half a change behind.
"""

from __future__ import annotations

import re

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from livinglab_platform.core.errors import (
    AuthenticationError,
    NotFoundError,
    PlatformError,
)
from livinglab_platform.web.i18n import translate
from livinglab_platform.web.render import redirect, render
from livinglab_platform.web.session import CsrfError, language

__all__ = ["PageRoute", "error_detail", "error_page", "is_page", "page_error"]

NO_SUCH_PAGE = "no such page"

_TITLED = (400, 403, 404, 409)
# "trial 999 not found", "device 'x' not found": what NotFoundError says of the common objects.
_NOT_FOUND = re.compile(
    r"(trial|device|site|organisation|person|token|assignment|grant) '?([^' ]+)'? not found"
)


def error_detail(exc: PlatformError, lang: str) -> str:
    """The detail an error page shows, in the page's language.

    Errors speak English (the API's and the CLI's language); the page translates the kinds it
    knows (`error.not_found.trial`: "Preizkusa 999 ni ..."). A detail it cannot translate is
    left out of a Slovenian page rather than shown in English: the page's title and text already
    say what happened.
    """
    message = str(exc)
    match = _NOT_FOUND.fullmatch(message)
    if match is not None:
        return translate(lang, f"error.not_found.{match[1]}", id=match[2])
    if message == NO_SUCH_PAGE:
        return translate(lang, "error.no_such_page")
    return message if lang == "en" else ""


class PageRoute(APIRoute):
    """A route of the web pages: its errors are answered in HTML."""


def is_page(request: Request) -> bool:
    """Whether the request was routed to a web page (rather than the API)."""
    return isinstance(request.scope.get("route"), PageRoute)


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
        detail=error_detail(exc, language(request)) if status != 500 else "",
    )


def page_error(
    request: Request, exc: PlatformError | RequestValidationError
) -> Response:
    """A page's answer to an error its route raised."""
    if isinstance(exc, AuthenticationError):
        return redirect(request, "/")
    if isinstance(exc, RequestValidationError):
        # Only path parameters are typed (a trial id that is not a number): no such page.
        return error_page(request, NotFoundError(NO_SUCH_PAGE))
    return error_page(request, exc)
