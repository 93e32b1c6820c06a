"""The device page `/devices/{id}`: sensors with their latest values, heartbeat and clock, delivery
completeness and gaps, trials, the configuration (desired against applied, and its form), events,
and for its owner and operators its quarantined messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from livinglab_platform.access import (
    Principal,
    require_config_writer,
    require_delivery_reader,
    sees_latest_readings,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
)
from livinglab_platform.core.formatting import Formats
from livinglab_platform.core.quantities import quantity_label, unit_symbol
from livinglab_platform.registry import delivery, organisations, remote_config, sites
from livinglab_platform.registry.fleet import get_device
from livinglab_platform.registry.schemas import ConfigChange, Interval, SensorChange
from livinglab_platform.trials.assignments import device_assignments
from livinglab_platform.web.render import redirect, render
from livinglab_platform.web.routing import PageRoute
from livinglab_platform.web.session import (
    FormDep,
    PageConn,
    SessionDep,
    field,
    language,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=PageRoute)

# The page's delivery report: the last days by Ljubljana day, and what it lists of each kind.
DAYS_SHOWN = 7
SHOWN = 20
# The configuration form's fields: the device-wide numbers, then one sensor's schedule.
CONFIG_FIELDS = ("batch_size", "batch_max_age_s", "heartbeat_interval_s")
SENSOR_FIELDS = ("sensor", "interval_s", "enabled")


def _allowed(
    rule: Callable[[Principal, str | None], None],
    principal: Principal,
    organisation_id: str | None,
) -> bool:
    """Whether an access rule lets the principal through (the page shows or hides a part)."""
    try:
        rule(principal, organisation_id)
    except ForbiddenError:
        return False
    return True


def _context(
    request: Request, conn: Connection, principal: Principal, device_id: str
) -> dict[str, Any]:
    device = get_device(conn, principal, device_id)
    lang = language(request)
    now = datetime.now(UTC)
    report = delivery.delivery(
        conn,
        principal,
        device_id,
        start=now - timedelta(days=DAYS_SHOWN),
        end=now,
        interval=Interval.day,
    )
    owner = device.organisation_id
    return {
        "device": device,
        "fmt": Formats(lang),
        "sensors": [
            (reading, quantity_label(reading.quantity, lang), unit_symbol(reading.unit))
            for reading in delivery.latest_readings(conn, principal, device_id)
        ],
        "sees_values": sees_latest_readings(principal, owner),
        "report": report,
        "assignments": device_assignments(conn, principal, device_id),
        "config": remote_config.get_config(conn, principal, device_id),
        "may_configure": _allowed(require_config_writer, principal, owner),
        "events": delivery.device_events(conn, principal, device_id, limit=SHOWN),
        "quarantined": (
            delivery.list_quarantined(conn, principal, device_id=device_id, limit=SHOWN)
            if _allowed(require_delivery_reader, principal, owner)
            else None
        ),
        "organisation": organisations.organisation_names(
            conn, [device.organisation_id] if device.organisation_id else []
        ).get(device.organisation_id or "", device.organisation_id),
        "site_name": sites.site_names(conn, [device.site_id]).get(
            device.site_id, device.site_id
        ),
        "notice": request.query_params.get("notice", "") == "configured",
        "values": {},
        "errors": {},
    }


@router.get("/devices/{device_id}")
def device_page(
    request: Request, conn: PageConn, session: SessionDep, device_id: str
) -> Response:
    """One device: what it measures, how it delivers, how it is configured."""
    return render(
        request, "device.html", **_context(request, conn, session.principal, device_id)
    )


def _number(form_value: str, name: str, kind: type[int] | type[float]) -> Any:
    text = form_value.strip().replace(",", ".")
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise InvalidInputError(f"{name}: not a number", field=name) from None


def _change(values: dict[str, str]) -> ConfigChange:
    sensors = {}
    name = values["sensor"].strip()
    interval = _number(values["interval_s"], "interval_s", float)
    enabled = {"yes": True, "no": False}.get(values["enabled"])
    if name:
        sensors[name] = SensorChange(interval_s=interval, enabled=enabled)
    elif interval is not None or enabled is not None:
        raise InvalidInputError("name the sensor this schedule is for", field="sensor")
    return ConfigChange(
        batch_size=_number(values["batch_size"], "batch_size", int),
        batch_max_age_s=_number(values["batch_max_age_s"], "batch_max_age_s", float),
        heartbeat_interval_s=_number(
            values["heartbeat_interval_s"], "heartbeat_interval_s", float
        ),
        sensors=sensors,
    )


@router.post("/devices/{device_id}")
def configure_device(
    request: Request, conn: PageConn, session: SessionDep, form: FormDep, device_id: str
) -> Response:
    """Set the device's desired configuration from the page's form; refused values come back
    next to their field, as typed."""
    values = {name: field(form, name) for name in (*CONFIG_FIELDS, *SENSOR_FIELDS)}
    try:
        change = _change(values)
        if change == ConfigChange():
            raise InvalidInputError("nothing to change", field="batch_size")
        with conn.transaction():  # a savepoint: a refusal leaves the page readable
            remote_config.set_config(
                conn,
                request.app.state.broker_settings,
                session.principal,
                device_id=device_id,
                change=change,
            )
    except ValidationError as exc:
        error = exc.errors()[0]
        errors = {str(error["loc"][0]) if error["loc"] else "": str(error["msg"])}
        return _refused(request, conn, session.principal, device_id, values, errors)
    except (InvalidInputError, ConflictError) as exc:
        name = (exc.field or "").split(".")[-1]
        key = name if name in (*CONFIG_FIELDS, *SENSOR_FIELDS) else ""
        return _refused(
            request,
            conn,
            session.principal,
            device_id,
            values,
            {key: str(exc)},
            exc.status,
        )
    return redirect(request, f"/devices/{device_id}?notice=configured")


def _refused(
    request: Request,
    conn: Connection,
    principal: Principal,
    device_id: str,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 422,
) -> Response:
    context = _context(request, conn, principal, device_id)
    context.update(values=values, errors=errors)
    return render(request, "device.html", status_code=status_code, **context)
