"""A device's delivery problems and its remote configuration: quarantine, events, gaps, config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from livinglab_edge_agent.wire import DEVICE_ID_REGEX
from livinglab_platform.api.deps import (
    BrokerSettingsDep,
    ConnDep,
    CurrentPrincipal,
    SlugPath,
)
from livinglab_platform.core.errors import InvalidInputError
from livinglab_platform.core.schema import EndMoment, ErrorPublic, Moment
from livinglab_platform.registry import delivery, remote_config
from livinglab_platform.registry.schemas import (
    ConfigChange,
    DeliveryPublic,
    DeviceConfigPublic,
    DeviceEventPublic,
    Interval,
    QuarantineEntryPublic,
)

router = APIRouter(tags=["devices"])
_BROKER = {
    502: {"model": ErrorPublic, "description": "The broker refused or did not answer"}
}
Limit = Annotated[int, Query(ge=1, le=1000)]
# A delivery report without `from` covers the day before `to`.
DEFAULT_PERIOD = timedelta(days=1)


@router.get("/quarantine")
def list_quarantine(
    conn: ConnDep,
    principal: CurrentPrincipal,
    device: Annotated[str | None, Query(pattern=DEVICE_ID_REGEX)] = None,
    since: Moment | None = None,
    limit: Limit = 100,
) -> list[QuarantineEntryPublic]:
    """Quarantined messages you may read (operators: all; partners: their devices'), newest first."""
    return delivery.list_quarantined(
        conn, principal, device_id=device, since=since, limit=limit
    )


@router.get("/quarantine/{entry_id}")
def read_quarantined(
    conn: ConnDep, principal: CurrentPrincipal, entry_id: int
) -> QuarantineEntryPublic:
    """One quarantined message with its reason, size and the start of its payload."""
    return delivery.get_quarantined(conn, principal, entry_id)


@router.get("/devices/{device_id}/quarantine")
def device_quarantine(
    conn: ConnDep,
    principal: CurrentPrincipal,
    device_id: SlugPath,
    since: Moment | None = None,
    limit: Limit = 100,
) -> list[QuarantineEntryPublic]:
    """The device's quarantined messages: for operators and the device's organisation."""
    return delivery.list_quarantined(
        conn, principal, device_id=device_id, since=since, limit=limit
    )


@router.get("/devices/{device_id}/events")
def device_events(
    conn: ConnDep, principal: CurrentPrincipal, device_id: SlugPath, limit: Limit = 50
) -> list[DeviceEventPublic]:
    """The device's latest events: configuration applied or refused, outbox purges, errors."""
    return delivery.device_events(conn, principal, device_id, limit=limit)


@router.get("/devices/{device_id}/delivery")
def device_delivery(
    conn: ConnDep,
    principal: CurrentPrincipal,
    device_id: SlugPath,
    start: Annotated[
        Moment | None, Query(alias="from", description="Default: 24 h before `to`")
    ] = None,
    end: Annotated[
        EndMoment | None,
        Query(alias="to", description="Default: now; a date is included whole"),
    ] = None,
    interval: Interval = Interval.hour,
) -> DeliveryPublic:
    """Batches received, seqs missing and completeness per hour or day, and the gaps."""
    end = end or datetime.now(UTC)
    if start is None:
        if end - datetime.min.replace(tzinfo=UTC) < DEFAULT_PERIOD:
            raise InvalidInputError(
                "must be at least 24 h after the year 1 when `from` is not given",
                field="to",
            )
        start = end - DEFAULT_PERIOD
    return delivery.delivery(
        conn, principal, device_id, start=start, end=end, interval=interval
    )


@router.get("/devices/{device_id}/config")
def read_config(
    conn: ConnDep, principal: CurrentPrincipal, device_id: SlugPath
) -> DeviceConfigPublic:
    """The desired configuration and whether the device applied or refused it."""
    return remote_config.get_config(conn, principal, device_id)


@router.put("/devices/{device_id}/config", responses=_BROKER)  # type: ignore[arg-type]
def set_config(
    conn: ConnDep,
    principal: CurrentPrincipal,
    settings: BrokerSettingsDep,
    device_id: SlugPath,
    change: ConfigChange,
) -> DeviceConfigPublic:
    """Change the desired configuration (fields left out keep theirs); published retained."""
    return remote_config.set_config(
        conn, settings, principal, device_id=device_id, change=change
    )
