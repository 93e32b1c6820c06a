"""Who may call what: every endpoint of /api/v1 x every role x an own and a foreign object.

The table below is the specification, derived from access.py (its docstring), lifecycle.py and
the domain modules. "own" means an object of startup-a, where `partner` works; "foreign" one of
startup-b. Endpoints without an object (lists, /me) make the same call in both columns. Each cell
gets a fresh object, made before its call by tests/api/calls.py. A new endpoint without a row
fails `test_every_endpoint_has_a_row`.
"""

from __future__ import annotations

import psycopg
import pytest

from livinglab_platform.api import create_app
from livinglab_platform.core.settings import ApiSettings
from tests.api.calls import BROKER_ROWS, BUILDERS, Setup
from tests.api.world import World
from tests.conftest import Broker

ROLES = ("anonymous", "operator", "partner", "viewer")
OWNERS = ("startup-a", "startup-b")
CELLS = [(role, owner) for role in ROLES for owner in OWNERS]

# fmt: off
# Expected status per cell; `own`: an object of startup-a, `for.`: one of startup-b.
#                                                             anonymous  operator   partner    viewer
#                                                             own  for.  own  for.  own  for.  own  for.
EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET",    "/api/v1/health"):                             (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/me"):                                 (401, 401, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/organisations"):                      (401, 401, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/organisations"):                      (401, 401, 201, 201, 403, 403, 403, 403),
    ("GET",    "/api/v1/organisations/{organisation_id}"):    (401, 401, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/people"):                             (401, 401, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/people"):                             (401, 401, 201, 201, 403, 403, 403, 403),
    ("POST",   "/api/v1/people/{person_id}/tokens"):          (401, 401, 201, 201, 201, 403, 403, 403),
    ("GET",    "/api/v1/tokens"):                             (401, 401, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/tokens"):                             (401, 401, 201, 201, 201, 201, 201, 201),
    ("DELETE", "/api/v1/tokens/{token_id}"):                  (401, 401, 200, 200, 200, 404, 404, 404),
    ("GET",    "/api/v1/sites"):                              (401, 401, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/sites"):                              (401, 401, 201, 201, 403, 403, 403, 403),
    ("GET",    "/api/v1/sites/{site_id}"):                    (401, 401, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/devices"):                            (401, 401, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/devices"):                            (401, 401, 201, 201, 201, 403, 403, 403),
    ("GET",    "/api/v1/devices/{device_id}"):                (401, 401, 200, 200, 200, 404, 200, 200),
    ("POST",   "/api/v1/devices/{device_id}/credentials"):    (401, 401, 200, 200, 200, 404, 403, 403),
    ("POST",   "/api/v1/devices/{device_id}/revoke"):         (401, 401, 200, 200, 200, 404, 403, 403),
    # Delivery problems: the quarantine for operators and the device's organisation only; a
    # device's events, delivery and configuration for whoever sees it; configured by its owners.
    ("GET",    "/api/v1/quarantine"):                         (401, 401, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/quarantine/{entry_id}"):              (401, 401, 200, 200, 200, 404, 404, 404),
    ("GET",    "/api/v1/devices/{device_id}/quarantine"):     (401, 401, 200, 200, 200, 404, 403, 403),
    ("GET",    "/api/v1/devices/{device_id}/events"):         (401, 401, 200, 200, 200, 404, 200, 200),
    ("GET",    "/api/v1/devices/{device_id}/delivery"):       (401, 401, 200, 200, 200, 404, 200, 200),
    ("GET",    "/api/v1/devices/{device_id}/config"):         (401, 401, 200, 200, 200, 404, 200, 200),
    ("PUT",    "/api/v1/devices/{device_id}/config"):         (401, 401, 200, 200, 200, 404, 403, 403),
    ("GET",    "/api/v1/trials"):                             (401, 401, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/trials"):                             (401, 401, 201, 201, 201, 403, 403, 403),
    ("GET",    "/api/v1/trials/{trial_id}"):                  (401, 401, 200, 200, 200, 404, 200, 200),
    ("PATCH",  "/api/v1/trials/{trial_id}"):                  (401, 401, 200, 200, 200, 404, 403, 403),
    ("POST",   "/api/v1/trials/{trial_id}/transitions"):      (401, 401, 200, 200, 200, 404, 403, 403),
    ("GET",    "/api/v1/trials/{trial_id}/audit"):            (401, 401, 200, 200, 200, 404, 200, 200),
    ("POST",   "/api/v1/trials/{trial_id}/devices"):          (401, 401, 201, 201, 201, 404, 403, 403),
    ("DELETE", "/api/v1/trials/{trial_id}/devices/{assignment_id}"):
                                                              (401, 401, 204, 204, 204, 404, 403, 403),
    ("GET",    "/api/v1/trials/{trial_id}/grants"):           (401, 401, 200, 200, 200, 404, 200, 200),
    ("POST",   "/api/v1/trials/{trial_id}/grants"):           (401, 401, 201, 201, 403, 404, 403, 403),
    ("DELETE", "/api/v1/trials/{trial_id}/grants/{grant_id}"):
                                                              (401, 401, 200, 200, 403, 404, 403, 403),
    ("GET",    "/api/v1/data"):                               (401, 401, 200, 200, 200, 404, 403, 403),
    ("GET",    "/api/v1/export"):                             (401, 401, 200, 200, 200, 404, 403, 403),
    ("GET",    "/api/v1/trials/{trial_id}/dossier"):          (401, 401, 200, 200, 200, 404, 403, 403),
    # The governance record: every role reads it, only operators keep it.
    ("GET",    "/api/v1/governance/indicators"):              (401, 401, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/governance/milestone"):               (401, 401, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/governance/kpi"):                     (401, 401, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/governance/indicators.csv"):          (401, 401, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/governance/forms"):                   (401, 401, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/governance/forms"):                   (401, 401, 201, 201, 403, 403, 403, 403),
    ("GET",    "/api/v1/governance/forms/{form_id}"):         (401, 401, 200, 200, 200, 200, 200, 200),
    ("PATCH",  "/api/v1/governance/forms/{form_id}"):         (401, 401, 200, 200, 403, 403, 403, 403),
    ("GET",    "/api/v1/governance/council/members"):         (401, 401, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/governance/council/members"):         (401, 401, 201, 201, 403, 403, 403, 403),
    ("PATCH",  "/api/v1/governance/council/members/{member_id}"):
                                                              (401, 401, 200, 200, 403, 403, 403, 403),
    ("GET",    "/api/v1/governance/council/meetings"):        (401, 401, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/governance/council/meetings"):        (401, 401, 201, 201, 403, 403, 403, 403),
    ("GET",    "/api/v1/governance/council/meetings/{meeting_id}"):
                                                              (401, 401, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/governance/applications"):            (401, 401, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/governance/applications"):            (401, 401, 201, 201, 403, 403, 403, 403),
    ("GET",    "/api/v1/governance/applications/{application_id}"):
                                                              (401, 401, 200, 200, 200, 200, 200, 200),
    ("PATCH",  "/api/v1/governance/applications/{application_id}"):
                                                              (401, 401, 200, 200, 403, 403, 403, 403),
    ("POST",   "/api/v1/governance/applications/{application_id}/status"):
                                                              (401, 401, 200, 200, 403, 403, 403, 403),
    ("POST",   "/api/v1/governance/evidence"):                (401, 401, 201, 201, 403, 403, 403, 403),
    ("POST",   "/api/v1/governance/evidence/{evidence_id}/verify"):
                                                              (401, 401, 200, 200, 403, 403, 403, 403),
    ("POST",   "/api/v1/governance/evidence/{evidence_id}/file"):
                                                              (401, 401, 200, 200, 403, 403, 403, 403),
    ("GET",    "/api/v1/governance/evidence/{evidence_id}/file"):
                                                              (401, 401, 200, 200, 200, 200, 200, 200),
}
# fmt: on


def _openapi_operations() -> set[tuple[str, str]]:
    document = create_app(
        ApiSettings(database_url="postgresql://unused/unused")
    ).openapi()
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    }


def test_every_endpoint_has_a_row():
    assert set(EXPECTED) == _openapi_operations()
    assert set(BUILDERS) == set(EXPECTED)
    assert all(len(statuses) == len(CELLS) for statuses in EXPECTED.values())


def _check_cell(
    client, setup: Setup, key: tuple[str, str], role: str, owner: str, status: int
) -> None:
    call = BUILDERS[key](setup, owner)
    response = client.request(
        key[0],
        call.url,
        json=call.json,
        files=call.files,
        params=call.params,
        headers=setup.world.headers(role),
    )
    where = f"{key[0]} {key[1]} as {role} on an object of {owner}"
    assert response.status_code == status, f"{where}: {response.text}"
    if status < 400:
        assert call.check(response, role), f"{where}: unexpected {response.text[:500]}"
        return
    body = response.json()
    assert set(body) == {"detail", "errors"}, f"{where}: {body}"
    assert isinstance(body["detail"], str), f"{where}: {body}"
    assert " " in body["detail"].strip(), f"{where}: not a sentence: {body}"
    assert isinstance(body["errors"], list), f"{where}: {body}"
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "key", sorted(set(EXPECTED) - BROKER_ROWS), ids=lambda k: f"{k[0]} {k[1]}"
)
def test_cells(client, world: World, key):
    with psycopg.connect(world.dsn) as conn:
        setup = Setup(conn=conn, world=world, broker=None)
        for (role, owner), status in zip(CELLS, EXPECTED[key], strict=True):
            _check_cell(client, setup, key, role, owner, status)


@pytest.mark.parametrize("key", sorted(BROKER_ROWS), ids=lambda k: f"{k[0]} {k[1]}")
def test_cells_with_a_broker(broker_client, world: World, broker: Broker, key):
    with psycopg.connect(world.dsn) as conn:
        setup = Setup(conn=conn, world=world, broker=broker)
        for (role, owner), status in zip(CELLS, EXPECTED[key], strict=True):
            _check_cell(broker_client, setup, key, role, owner, status)
