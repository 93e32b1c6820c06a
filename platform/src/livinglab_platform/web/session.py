"""A browser's session with the pages: its sign-in cookie, form protection and chosen language.

Forms are protected by a double submit: a random `livinglab_csrf` cookie, repeated in a hidden
field of every form. Another site can make a browser send the cookie but cannot read it, so it
cannot fill in the field.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from psycopg_pool import ConnectionPool
from starlette.datastructures import FormData

from livinglab_platform.access import Principal
from livinglab_platform.core import db
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import AuthenticationError, ForbiddenError
from livinglab_platform.registry import organisations, tokens
from livinglab_platform.registry.tokens import TOKEN_COOKIE
from livinglab_platform.web.i18n import DEFAULT, LANGUAGES, Lang

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "LANG_COOKIE",
    "TOKEN_COOKIE",
    "CsrfError",
    "FormDep",
    "PageConn",
    "Session",
    "SessionDep",
    "csrf_token",
    "field",
    "forget_token",
    "language",
    "remember",
    "sign_in",
    "sign_out",
]

CSRF_COOKIE = "livinglab_csrf"
CSRF_FIELD = "csrf"
LANG_COOKIE = "livinglab_lang"
LANG_MAX_AGE_S = 365 * 24 * 3600
_CSRF_BYTES = 32


class CsrfError(ForbiddenError):
    """A form arrived without this browser's CSRF token: an old page, or another site's form."""


@dataclass(frozen=True)
class Session:
    """The signed-in person, with their organisation's name for the page header."""

    principal: Principal
    organisation: str


def _secure(request: Request) -> bool:
    return bool(request.app.state.settings.api_secure_cookies)


def language(request: Request) -> Lang:
    """`?lang=` if valid, else the language cookie, else Slovenian."""
    for candidate in (
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
    ):
        for lang in LANGUAGES:
            if candidate == lang:
                return lang
    return DEFAULT


def csrf_token(request: Request) -> str:
    """This browser's CSRF token: its cookie, or a new one that `remember` will set."""
    token: str | None = getattr(request.state, "csrf", None)
    if token is None:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        token = (
            cookie if len(cookie) >= _CSRF_BYTES else secrets.token_urlsafe(_CSRF_BYTES)
        )
        request.state.csrf = token
    return token


def remember(request: Request, response: Response) -> Response:
    """Set the cookies this request decided on: a new CSRF token, a language chosen by `?lang=`."""
    token: str | None = getattr(request.state, "csrf", None)
    if token is not None and token != request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and chosen != request.cookies.get(LANG_COOKIE):
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=_secure(request),
        )
    return response


def sign_in(request: Request, response: Response, token: str) -> None:
    """Keep the token in an HttpOnly cookie, and start a fresh CSRF token with the session."""
    for name, value in (
        (TOKEN_COOKIE, token),
        (CSRF_COOKIE, secrets.token_urlsafe(_CSRF_BYTES)),
    ):
        response.set_cookie(
            name, value, httponly=True, samesite="strict", secure=_secure(request)
        )


def forget_token(request: Request, response: Response) -> None:
    """Forget a token that no longer works; the page's form keeps its CSRF token."""
    response.delete_cookie(
        TOKEN_COOKIE, httponly=True, samesite="strict", secure=_secure(request)
    )


def sign_out(request: Request, response: Response) -> None:
    """Forget the token and the CSRF token of this browser."""
    forget_token(request, response)
    response.delete_cookie(
        CSRF_COOKIE, httponly=True, samesite="strict", secure=_secure(request)
    )


def _unit_of_work(request: Request) -> Iterator[Connection]:
    pool: ConnectionPool[Connection] = request.app.state.pool
    with pool.connection() as conn, db.unit_of_work(conn):
        yield conn


# A page's one unit of work, ended before the page is sent (function scope): an error raised by
# the page rolls it back before the error page is rendered. A page that shows a refused change
# itself runs the change in a savepoint (`with conn.transaction():`), so the refusal is undone
# and the page can still read what it shows.
PageConn = Annotated[Connection, Depends(_unit_of_work, scope="function")]


def _session(request: Request, conn: PageConn) -> Session:
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        raise AuthenticationError("sign in first")
    principal = tokens.authenticate(conn, token)
    organisation = (
        organisations.get_organisation(conn, principal.organisation_id).name
        if principal.organisation_id
        else ""
    )
    session = Session(principal=principal, organisation=organisation)
    request.state.session = session
    return session


SessionDep = Annotated[Session, Depends(_session, scope="function")]


async def _form(request: Request) -> FormData:
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not (
        isinstance(sent, str)
        and cookie
        and secrets.compare_digest(sent.encode(), cookie.encode())
    ):
        raise CsrfError(
            "the form's security token does not match this browser's; reload the page and"
            " send the form again"
        )
    return form


FormDep = Annotated[FormData, Depends(_form)]


def field(form: FormData, name: str) -> str:
    """A text field of a form; empty when missing or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
