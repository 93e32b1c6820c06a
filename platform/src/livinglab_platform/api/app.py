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

from livinglab_platform import web
from livinglab_platform.api.deps import ERRORS
from livinglab_platform.api.routes import (
    data,
    devices,
    exports,
    governance,
    health,
    organisations,
    people,
    sites,
    trials,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import PlatformError
from livinglab_platform.core.settings import ApiSettings, BrokerSettings

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# How long a request waits for a database connection before answering 503.
DATABASE_WAIT_S = 5.0


def _configure(conn: Connection) -> None:
    # Naive timestamps from clients are read as UTC, whatever the server's default time zone.
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path")]
    return ".".join(parts) or str(location[-1] if location else "request")


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if web.is_page(request):
        return web.page_error(request, exc)
    errors = [
        {
            "field": _field(tuple(e.get("loc", ()))),
            "message": str(e.get("msg", "invalid")),
        }
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
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


def create_app(
    settings: ApiSettings | None = None, broker_settings: BrokerSettings | None = None
) -> FastAPI:
    """Build the application; settings default to the LIVINGLAB_* environment."""
    settings = settings or ApiSettings()
    broker_settings = broker_settings or BrokerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=settings.api_pool_size,
            configure=_configure,
            timeout=DATABASE_WAIT_S,
            open=True,
        ) as pool:
            app.state.pool = pool
            yield

    app = FastAPI(
        title="livinglab",
        version="1",
        summary="Ljubljana's living lab: trials, partners, devices and their data",
        lifespan=lifespan,
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
        trials,
        data,
        exports,
        governance,
    ):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PlatformError, _platform_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    return app
