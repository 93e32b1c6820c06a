"""Dependencies of the API's routes: a database connection, the person asking, the broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool

from livinglab_edge_agent.wire import DEVICE_ID_REGEX
from livinglab_platform.access import Principal
from livinglab_platform.api import slots
from livinglab_platform.api.slots import ExportSlot
from livinglab_platform.core import db
from livinglab_platform.core.db import Connection
from livinglab_platform.core.dynsec import DynSec
from livinglab_platform.core.errors import AuthenticationError
from livinglab_platform.core.schema import ErrorPublic
from livinglab_platform.core.settings import BrokerSettings
from livinglab_platform.registry import tokens

__all__ = [
    "ERRORS",
    "BrokerDep",
    "BrokerSettingsDep",
    "ConnDep",
    "CurrentPrincipal",
    "EvidenceMaxBytes",
    "ExportSlotDep",
    "HealthConn",
    "SlugPath",
    "ViewerMinCount",
]

# Every route may answer with these; each is an ErrorPublic with a sentence a person can act on.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorPublic,
        "description": "Invalid for the platform's rules or state; `errors` names the field",
    },
    401: {
        "model": ErrorPublic,
        "description": "No token, or an unknown, revoked or expired one",
    },
    403: {
        "model": ErrorPublic,
        "description": "Your role or organisation may not do this",
    },
    404: {"model": ErrorPublic, "description": "Not found, or not visible to you"},
    409: {"model": ErrorPublic, "description": "Clashes with the current state"},
    413: {
        "model": ErrorPublic,
        "description": "The request's body is larger than the API takes",
    },
    422: {
        "model": ErrorPublic,
        "description": "Invalid input; `errors` names each field",
    },
    429: {
        "model": ErrorPublic,
        "description": "Too many downloads at once (yours, or everyone's); retry after `Retry-After`",
    },
    503: {
        "model": ErrorPublic,
        "description": "The database is not reachable right now; retry later",
    },
}

# Organisation, site and device ids are slugs: anything else is refused before it reaches a query
# (psycopg cannot even send a NUL in text).
SlugPath = Annotated[str, Path(pattern=DEVICE_ID_REGEX)]

_bearer = HTTPBearer(
    auto_error=False, description="A token from `livinglab tokens create`"
)


def _unit_of_work(request: Request) -> Iterator[Connection]:
    pool: ConnectionPool[Connection] = request.app.state.pool
    with pool.connection() as conn, db.unit_of_work(conn):
        yield conn


# The request's one unit of work. Function scope: it commits (or rolls back) when the route
# returns (or raises), before the response is sent, so a 201 is only ever sent for a commit; and
# its connection is back in the pool before the first byte goes out, so no client, however slowly
# it reads, holds one of the requests' connections (a download streams from `ExportSlotDep`).
ConnDep = Annotated[Connection, Depends(_unit_of_work, scope="function")]


def _health_unit_of_work(request: Request) -> Iterator[Connection]:
    pool: ConnectionPool[Connection] = request.app.state.health_pool
    with pool.connection() as conn, db.unit_of_work(conn):
        yield conn


# Health checks have a connection of their own: they answer while the requests' pool is busy, and
# an unauthenticated flood of them can only slow health checks down.
HealthConn = Annotated[Connection, Depends(_health_unit_of_work, scope="function")]


def _export_slot(request: Request) -> Iterator[ExportSlot]:
    # Request scope: the slot is released once the response is sent, abandoned or cut.
    yield from slots.slot(request.app.state.export_slots)


ExportSlotDep = Annotated[ExportSlot, Depends(_export_slot)]


def _principal(
    request: Request,
    conn: ConnDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = credentials.credentials if credentials is not None else None
    # The web pages' sign-in cookie also opens the API, but only for reads (their live charts):
    # a cross-site form or script can then never change anything with it, whatever SameSite
    # policy a browser applies. Changes go through the pages' CSRF-checked forms or a Bearer token.
    if token is None and request.method in ("GET", "HEAD"):
        token = request.cookies.get(tokens.TOKEN_COOKIE)
    if not token:
        raise AuthenticationError(
            "sign in: send `Authorization: Bearer <token>` (tokens come from an operator)"
        )
    # The token's last use is recorded in the request's unit of work: a refused request changes
    # nothing, that record included.
    return tokens.authenticate(conn, token)


CurrentPrincipal = Annotated[Principal, Depends(_principal, scope="function")]


def _viewer_min_count(request: Request) -> int:
    return int(request.app.state.settings.viewer_min_count)


# LIVINGLAB_VIEWER_MIN_COUNT, for the data queries (access.cell_min_count).
ViewerMinCount = Annotated[int, Depends(_viewer_min_count)]


def _evidence_max_bytes(request: Request) -> int:
    return int(request.app.state.settings.evidence_max_bytes)


EvidenceMaxBytes = Annotated[int, Depends(_evidence_max_bytes)]


def _broker(request: Request) -> Iterator[DynSec]:
    settings: BrokerSettings = request.app.state.broker_settings
    with DynSec.from_settings(settings) as dynsec:
        yield dynsec


BrokerDep = Annotated[DynSec, Depends(_broker)]


def _broker_settings(request: Request) -> BrokerSettings:
    return request.app.state.broker_settings  # type: ignore[no-any-return]


# How to reach the broker as the platform (publishing desired configurations).
BrokerSettingsDep = Annotated[BrokerSettings, Depends(_broker_settings)]
