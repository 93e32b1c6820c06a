"""The FastAPI application: the API under /api/v1, the web pages, and one error format."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp

from livinglab_platform import web
from livinglab_platform.api import docs
from livinglab_platform.api.deps import ERRORS
from livinglab_platform.api.limits import Limits
from livinglab_platform.api.routes import (
    data,
    delivery,
    devices,
    exports,
    governance,
    governance_exports,
    governance_files,
    health,
    organisations,
    people,
    sites,
    trials,
)
from livinglab_platform.api.slots import ExportSlots
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import BusyError, PlatformError
from livinglab_platform.core.settings import ApiSettings, BrokerSettings

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# How long a request waits for a database connection before answering 503.
DATABASE_WAIT_S = 5.0
# A 422 lists at most this many problems, each field and message cut to MAX_ERROR_CHARS: an
# answer never grows with its input (700k unknown keys once made a 44 MB answer).
MAX_ERRORS = 20
MAX_ERROR_CHARS = 200


def _configure(conn: Connection) -> None:
    # Naive timestamps from clients are read as UTC, whatever the server's default time zone.
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path")]
    return ".".join(parts) or str(location[-1] if location else "request")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if web.is_page(request):
        return web.page_error(request, exc)
    problems = exc.errors()
    # Field and message only, never the input itself; both cut, and only the first problems.
    errors = [
        {
            "field": _cut(_field(tuple(e.get("loc", ())))),
            "message": _cut(str(e.get("msg", "invalid"))),
        }
        for e in problems[:MAX_ERRORS]
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    more = len(problems) - len(errors)
    if more > 0:
        summary += f"; and {more} more"
    return JSONResponse(
        status_code=422,
        content={"detail": f"invalid input: {summary}", "errors": errors},
    )


def _field_errors(exc: PlatformError) -> list[dict[str, str]]:
    # The same shape as a validation error's, so a client reads a field's problem one way.
    return [] if exc.field is None else [{"field": exc.field, "message": str(exc)}]


def _platform_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PlatformError)
    if web.is_page(request):
        return web.page_error(request, exc)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, BusyError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return JSONResponse(
        status_code=exc.status,
        content={"detail": str(exc), "errors": _field_errors(exc)},
        headers=headers,
    )


def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    # PoolTimeout: no connection within DATABASE_WAIT_S, usually because the server is down or
    # restarting; OperationalError: the connection broke mid-request. Both pass, so say so.
    logger.warning("database unavailable: %s", exc)
    return JSONResponse(
        status_code=503,
        content={
            "detail": "the database is not reachable right now; try again in a moment",
            "errors": [],
        },
        headers={"Retry-After": "5"},
    )


def _allowed_methods(request: Request) -> list[str]:
    # Starlette answers 405 from the first route whose path matches, so its Allow header names that
    # route's methods only; RFC 9110 section 15.5.6 wants every method the resource supports. Asking
    # each route about each method works whether or not routers nest their routes.
    return [
        method
        for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    detail = str(exc.detail)
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed here; use {' or '.join(allowed)}"
    return JSONResponse(
        status_code=exc.status_code,
        content={"detail": detail, "errors": []},
        headers=headers,
    )


class _Api(FastAPI):
    """The application wrapped in `Limits`, outermost, so they hold for every response."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: ApiSettings = self.state.settings
        return Limits(
            super().build_middleware_stack(),
            max_body_bytes=settings.api_max_body_bytes,
            send_timeout_s=settings.api_send_timeout_s,
            larger_bodies=[governance_files.evidence_upload_limit(settings)],
        )


def _pool(settings: ApiSettings, size: int, name: str) -> ConnectionPool[Connection]:
    return ConnectionPool(
        settings.database_url,
        min_size=1,
        max_size=size,
        configure=_configure,
        timeout=DATABASE_WAIT_S,
        name=name,
        open=True,
    )


def create_app(
    settings: ApiSettings | None = None, broker_settings: BrokerSettings | None = None
) -> FastAPI:
    """Build the application; settings default to the LIVINGLAB_* environment."""
    settings = settings or ApiSettings()
    broker_settings = broker_settings or BrokerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Three pools, so that no kind of request waits on another: the requests' (each holds a
        # connection only while its route runs), the downloads' (held while they stream) and
        # the health checks' one connection.
        with (
            _pool(settings, settings.api_pool_size, "requests") as pool,
            _pool(settings, settings.api_export_pool_size, "exports") as export_pool,
            _pool(settings, 1, "health") as health_pool,
        ):
            app.state.pool = pool
            app.state.export_slots = ExportSlots(
                export_pool, per_person=settings.api_exports_per_person
            )
            app.state.health_pool = health_pool
            yield

    app = _Api(
        title="livinglab",
        version="1",
        summary="Ljubljana's living lab: trials, partners, devices and their data",
        lifespan=lifespan,
        # Served by `docs` from installed files, under the pages' Content-Security-Policy.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.broker_settings = broker_settings
    api = APIRouter(prefix=API_PREFIX, responses=ERRORS)
    for module in (
        health,
        people,
        organisations,
        sites,
        devices,
        delivery,
        trials,
        data,
        exports,
        governance,
        governance_exports,
        governance_files,
    ):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(web.router)
    app.include_router(docs.router)
    # Before /static: the more specific mount must come first to be matched.
    app.mount(docs.ASSETS_PATH, StaticFiles(directory=docs.ASSETS_DIR), name="docs")
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PlatformError, _platform_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    return app
