"""Exports of the governance results a city already uses: FIWARE `KeyPerformanceIndicator`
entities (NGSI-LD) and a CSV of every indicator by year. Everyone signed in reads them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from livinglab_platform.api.deps import ConnDep, CurrentPrincipal
from livinglab_platform.api.routes.governance import Year
from livinglab_platform.governance import kpi, table
from livinglab_platform.governance.dates import today

router = APIRouter(prefix="/governance", tags=["governance"])

CSV = "text/csv; charset=utf-8"

_ENTITY = {
    "type": "object",
    "required": ["id", "type", "@context"],
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string", "enum": [kpi.ENTITY_TYPE]},
        "@context": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": {
        "type": "object",
        "required": ["type", "value"],
        "properties": {"type": {"type": "string", "enum": ["Property"]}},
    },
}


class LdJsonResponse(JSONResponse):
    media_type = kpi.MEDIA_TYPE


@router.get(
    "/kpi",
    # A plain Response here, so the errors stay documented as the JSON every error is.
    response_class=Response,
    responses={
        200: {
            "description": "The year's indicators, its verdict and the milestone as"
            " FIWARE KeyPerformanceIndicator entities, NGSI-LD normalised",
            "content": {
                kpi.MEDIA_TYPE: {"schema": {"type": "array", "items": _ENTITY}}
            },
        }
    },
)
def read_kpi(
    conn: ConnDep, principal: CurrentPrincipal, request: Request, year: Year
) -> LdJsonResponse:
    """Every indicator of the year, the verdict and the milestone as KeyPerformanceIndicator entities."""
    source = str(request.url_for("read_indicators").include_query_params(year=year))
    entities: list[dict[str, Any]] = kpi.kpi_entities(
        conn, principal, year=year, source=source
    )
    return LdJsonResponse(entities)


@router.get(
    "/indicators.csv",
    response_class=Response,
    responses={
        200: {
            "description": "One row per year and indicator: "
            + ", ".join(table.COLUMNS),
            "content": {CSV: {"schema": {"type": "string"}}},
        }
    },
)
def read_indicators_csv(
    conn: ConnDep,
    principal: CurrentPrincipal,
    first: Annotated[
        int | None,
        Query(
            alias="from",
            ge=2000,
            le=2100,
            description="First year; default the record's first",
        ),
    ] = None,
    last: Annotated[
        int | None,
        Query(alias="to", ge=2000, le=2100, description="Last year; default this year"),
    ] = None,
) -> Response:
    """Every indicator (the strategy's and the lab's own) by year, with the year's verdict, as CSV."""
    first = first if first is not None else table.first_year(conn)
    last = last if last is not None else today().year
    body = table.indicators_csv(conn, principal, first=first, last=last)
    return Response(
        body,
        media_type=CSV,
        headers={
            "Content-Disposition": f'attachment; filename="indicators-{first}-{last}.csv"'
        },
    )
