"""Pilot sites: where devices are installed and trials take place."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg.rows import class_row

from livinglab_edge_agent.wire import DEVICE_ID_PATTERN, DEVICE_ID_RULE
from livinglab_platform import audit
from livinglab_platform.access import Principal, require_operator
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from livinglab_platform.registry.schemas import SiteCreate, SitePublic

__all__ = ["add_site", "create_site", "get_site", "list_sites", "site_names"]


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
    """Add a pilot site."""
    if not DEVICE_ID_PATTERN.match(site_id):
        raise InvalidInputError(
            f"site id {site_id!r} must be {DEVICE_ID_RULE}", field="id"
        )
    if (
        host_organisation_id is not None
        and conn.execute(
            "SELECT 1 FROM organisations WHERE id = %s", (host_organisation_id,)
        ).fetchone()
        is None
    ):
        raise InvalidInputError(
            f"organisation {host_organisation_id!r} does not exist",
            field="host_organisation_id",
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
    """Add a site (operators only) and audit it."""
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


_SITES = """
SELECT id, name, coalesce(address, '') AS address, latitude, longitude, host_organisation_id,
       coalesce(description, '') AS description, photos
  FROM sites"""
_SITE_ROW = class_row(SitePublic)


def get_site(conn: Connection, site_id: str) -> SitePublic:
    """One site; sites are public to every signed-in person."""
    with conn.cursor(row_factory=_SITE_ROW) as cur:
        found = cur.execute(f"{_SITES} WHERE id = %s", (site_id,)).fetchone()
    if found is None:
        raise NotFoundError(f"site {site_id!r} not found")
    return found


def list_sites(conn: Connection) -> list[SitePublic]:
    """Every site, by name."""
    with conn.cursor(row_factory=_SITE_ROW) as cur:
        return cur.execute(f"{_SITES} ORDER BY name").fetchall()


def site_names(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """The names of the sites with these ids (a page names only what it shows)."""
    rows = conn.execute(
        "SELECT id, name FROM sites WHERE id = ANY(%s)", (sorted(set(ids)),)
    ).fetchall()
    return {str(row_id): str(name) for row_id, name in rows}
