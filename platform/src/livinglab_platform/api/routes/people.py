"""People: who is asking, the people of the organisations, and their tokens."""

from __future__ import annotations

from fastapi import APIRouter, status

from livinglab_platform.api.deps import ConnDep, CurrentPrincipal
from livinglab_platform.core.errors import NotFoundError
from livinglab_platform.registry import people, tokens
from livinglab_platform.registry.schemas import (
    PersonCreate,
    PersonPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
)

router = APIRouter(tags=["people"])


@router.get("/me")
def read_me(conn: ConnDep, principal: CurrentPrincipal) -> PersonPublic:
    """The person the token belongs to."""
    if principal.person_id is None:
        raise NotFoundError("the command line has no person")
    return people.get_person(conn, principal, principal.person_id)


@router.get("/people")
def list_people(conn: ConnDep, principal: CurrentPrincipal) -> list[PersonPublic]:
    """People: all of them for operators, one's own organisation for others."""
    return people.list_people(conn, principal)


@router.post("/people", status_code=status.HTTP_201_CREATED)
def create_person(
    conn: ConnDep, principal: CurrentPrincipal, person: PersonCreate
) -> PersonPublic:
    """Add a person to an organisation with a role (operators)."""
    return people.create_person(conn, principal, person=person)


@router.post("/people/{person_id}/tokens", status_code=status.HTTP_201_CREATED)
def create_person_token(
    conn: ConnDep, principal: CurrentPrincipal, person_id: int, token: TokenCreate
) -> TokenCreated:
    """Create a token for a person (operators; anyone for themselves); the token is shown once."""
    return tokens.create_token(conn, principal, person_id=person_id, token=token)


@router.get("/tokens")
def list_tokens(conn: ConnDep, principal: CurrentPrincipal) -> list[TokenPublic]:
    """One's own tokens, without their secrets."""
    return tokens.list_tokens(conn, principal)


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(
    conn: ConnDep, principal: CurrentPrincipal, token: TokenCreate
) -> TokenCreated:
    """Create a token for oneself; it is shown once."""
    if principal.person_id is None:
        raise NotFoundError("the command line has no person to create a token for")
    return tokens.create_token(
        conn, principal, person_id=principal.person_id, token=token
    )


@router.delete("/tokens/{token_id}")
def revoke_token(
    conn: ConnDep, principal: CurrentPrincipal, token_id: int
) -> TokenPublic:
    """Revoke a token at once (one's own; operators any)."""
    return tokens.revoke_token(conn, principal, token_id=token_id)
