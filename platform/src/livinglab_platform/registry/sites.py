"""Pilot sites: where devices are installed and trials take place."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from livinglab_edge_agent.wire import DEVICE_ID_PATTERN
from livinglab_platform import audit
from livinglab_platform.access import Principal, require_operator
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import ConflictError, NotFoundError, RegistryError
from livinglab_platform.registry.schemas import SiteCreate, SitePublic

__all__ = ["add_site", "create_site", "get_site", "list_sites"]


def add_site(
    conn: Connection,
    *,
    site_id: str,
    name: str,
    latitude: float | None = None,
    longitude: float | None = None,
    address: str | None = None,
    host_organisation_id: str | None = None,
    description: str | None = None,
    photos: list[str] | None = None,
) -> None:
    """Add a pilot site; the caller commits."""
    if not DEVICE_ID_PATTERN.match(site_id):
        raise RegistryError(
            f"site id {site_id!r} must be 1-63 of a-z 0-9 _ -, starting with a letter or digit"
        )
    if (
        host_organisation_id is not None
        and conn.execute(
            "SELECT 1 FROM organisations WHERE id = %s", (host_organisation_id,)
        ).fetchone()
        is None
    ):
        raise RegistryError(
            f"organisation {host_organisation_id!r} does not exist (host_organisation_id)"
        )
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO sites (id, name, latitude, longitude, address, host_organisation_id,"
                " description, photos) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    site_id,
                    name,
                    latitude,
                    longitude,
                    address,
                    host_organisation_id,
                    description,
                    photos or [],
                ),
            )
    except psycopg.errors.UniqueViolation as exc:
        raise ConflictError(f"site {site_id!r} already exists") from exc


def create_site(
    conn: Connection, principal: Principal, *, site: SiteCreate
) -> SitePublic:
    """Add a site (operators only) and audit it; the caller commits."""
    require_operator(principal, "add sites")
    with conn.transaction():
        add_site(
            conn,
            site_id=site.id,
            name=site.name,
            latitude=site.latitude,
            longitude=site.longitude,
            address=site.address,
            host_organisation_id=site.host_organisation_id,
            description=site.description,
            photos=site.photos,
        )
        audit.record(
            conn,
            principal,
            object_type="site",
            object_id=site.id,
            action="create",
            details={"name": site.name},
        )
    return get_site(conn, site.id)


def _site(row: dict[str, Any]) -> SitePublic:
    return SitePublic(
        id=row["id"],
        name=row["name"],
        address=row["address"] or "",
        latitude=row["latitude"],
        longitude=row["longitude"],
        host_organisation_id=row["host_organisation_id"],
        description=row["description"] or "",
        photos=list(row["photos"]),
    )


def get_site(conn: Connection, site_id: str) -> SitePublic:
    """One site; sites are public to every signed-in person."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM sites WHERE id = %s", (site_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"site {site_id!r} not found")
    return _site(row)


def list_sites(conn: Connection) -> list[SitePublic]:
    """Every site, by name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return [_site(r) for r in cur.execute("SELECT * FROM sites ORDER BY name")]
