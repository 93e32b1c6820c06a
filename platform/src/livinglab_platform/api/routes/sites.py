"""Pilot sites."""

from __future__ import annotations

from fastapi import APIRouter, status

from livinglab_platform.api.deps import ConnDep, CurrentPrincipal, SlugPath
from livinglab_platform.registry import sites
from livinglab_platform.registry.schemas import SiteCreate, SitePublic

router = APIRouter(tags=["sites"])


@router.get("/sites")
def list_sites(conn: ConnDep, _principal: CurrentPrincipal) -> list[SitePublic]:
    """Every pilot site."""
    return sites.list_sites(conn)


@router.post("/sites", status_code=status.HTTP_201_CREATED)
def create_site(
    conn: ConnDep, principal: CurrentPrincipal, site: SiteCreate
) -> SitePublic:
    """Add a pilot site (operators)."""
    return sites.create_site(conn, principal, site=site)


@router.get("/sites/{site_id}")
def read_site(
    conn: ConnDep, _principal: CurrentPrincipal, site_id: SlugPath
) -> SitePublic:
    """One pilot site."""
    return sites.get_site(conn, site_id)
