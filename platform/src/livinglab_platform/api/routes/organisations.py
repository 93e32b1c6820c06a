"""Organisations of the ecosystem."""

from __future__ import annotations

from fastapi import APIRouter, status

from livinglab_platform.api.deps import ConnDep, CurrentPrincipal, SlugPath
from livinglab_platform.registry import organisations
from livinglab_platform.registry.schemas import OrganisationCreate, OrganisationPublic

router = APIRouter(tags=["organisations"])


@router.get("/organisations")
def list_organisations(
    conn: ConnDep, _principal: CurrentPrincipal
) -> list[OrganisationPublic]:
    """Every organisation of the ecosystem, with its kind."""
    return organisations.list_organisations(conn)


@router.post("/organisations", status_code=status.HTTP_201_CREATED)
def create_organisation(
    conn: ConnDep, principal: CurrentPrincipal, organisation: OrganisationCreate
) -> OrganisationPublic:
    """Add an organisation (operators)."""
    return organisations.create_organisation(conn, principal, organisation=organisation)


@router.get("/organisations/{organisation_id}")
def read_organisation(
    conn: ConnDep, _principal: CurrentPrincipal, organisation_id: SlugPath
) -> OrganisationPublic:
    """One organisation."""
    return organisations.get_organisation(conn, organisation_id)
