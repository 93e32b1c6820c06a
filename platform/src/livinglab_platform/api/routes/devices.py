"""Devices: registration with broker credentials shown once, rotation, revocation, live status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from livinglab_edge_agent.wire import DEVICE_ID_REGEX
from livinglab_platform.api.deps import BrokerDep, ConnDep, CurrentPrincipal, SlugPath
from livinglab_platform.core.schema import ErrorPublic, Reason
from livinglab_platform.registry import devices, fleet
from livinglab_platform.registry.schemas import (
    DeviceCreate,
    DeviceCredentialsPublic,
    DevicePublic,
)

router = APIRouter(tags=["devices"])
_BROKER = {
    502: {"model": ErrorPublic, "description": "The broker refused or did not answer"}
}


@router.get("/devices")
def list_devices(
    conn: ConnDep,
    principal: CurrentPrincipal,
    site: Annotated[str | None, Query(pattern=DEVICE_ID_REGEX)] = None,
) -> list[DevicePublic]:
    """Devices visible to you, with online state, outbox depth, clock and delivery completeness."""
    return fleet.list_devices(conn, principal, site_id=site)


@router.post("/devices", status_code=status.HTTP_201_CREATED, responses=_BROKER)  # type: ignore[arg-type]
def register_device(
    conn: ConnDep, principal: CurrentPrincipal, dynsec: BrokerDep, device: DeviceCreate
) -> DeviceCredentialsPublic:
    """Register a device and its sensors; its broker password is in this answer only."""
    return devices.register(conn, dynsec, principal, device=device)


@router.get("/devices/{device_id}")
def read_device(
    conn: ConnDep, principal: CurrentPrincipal, device_id: SlugPath
) -> DevicePublic:
    """One device with its live status."""
    return fleet.get_device(conn, principal, device_id)


@router.post("/devices/{device_id}/credentials", responses=_BROKER)  # type: ignore[arg-type]
def rotate_credentials(
    conn: ConnDep, principal: CurrentPrincipal, dynsec: BrokerDep, device_id: SlugPath
) -> DeviceCredentialsPublic:
    """Issue a new broker password; the old one stops working."""
    return devices.rotate_credentials(conn, dynsec, principal, device_id=device_id)


@router.post("/devices/{device_id}/revoke", responses=_BROKER)  # type: ignore[arg-type]
def revoke_device(
    conn: ConnDep,
    principal: CurrentPrincipal,
    dynsec: BrokerDep,
    device_id: SlugPath,
    reason: Annotated[Reason, Body(embed=True)] = "",
) -> DevicePublic:
    """Disconnect the device now and refuse its broker logins from now on; its data stays."""
    return devices.revoke(conn, dynsec, principal, device_id=device_id, reason=reason)
