"""A valid request for every endpoint of /api/v1, made on fresh objects of a given organisation.

`BUILDERS[(method, path)](setup, org)` creates what the call needs (a trial, a device, a grant...)
through the domain modules and returns the call, with a check of its 2xx answer. The
authorization matrix and the hostile-input tests both use them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx2 as httpx  # what starlette.testclient answers with
import psycopg

from livinglab_platform.registry import devices, sites, tokens
from livinglab_platform.registry.schemas import TokenCreate
from livinglab_platform.trials import grants
from livinglab_platform.trials.schemas import GrantCreate
from tests.api.readings import fill_rollups
from tests.api.world import CLI, T0, World, add_device, make_trial, trial_input
from tests.conftest import Broker

# The person of each organisation whose tokens and person rows stand for its objects.
PERSON = {"startup-a": "partner", "startup-b": "other"}
# Rows whose 2xx calls talk to the broker (device clients); they run against a real one.
BROKER_ROWS = {
    ("POST", "/api/v1/devices"),
    ("POST", "/api/v1/devices/{device_id}/credentials"),
    ("POST", "/api/v1/devices/{device_id}/revoke"),
    ("PUT", "/api/v1/devices/{device_id}/config"),
}


@dataclass
class Call:
    """One request, and what a 2xx answer to it must show."""

    url: str
    json: object = None
    params: dict[str, Any] = field(default_factory=dict)
    # A multipart body instead of JSON: {field: (name, content, type)}.
    files: dict[str, tuple[str, bytes, str]] | None = None
    # Given the answer and the role asking; the role matters for lists.
    check: Callable[[httpx.Response, str], bool] = lambda _response, _role: True


@dataclass
class Setup:
    """Makes the fresh objects a cell's call works on, straight through the domain modules."""

    conn: psycopg.Connection[Any]
    world: World
    broker: Broker | None
    numbers: Iterator[int] = field(default_factory=itertools.count)

    def name(self, prefix: str) -> str:
        return f"matrix-{prefix}-{next(self.numbers)}"

    def device(self, org: str, *, readings: int = 0) -> str:
        """A device of `org`, with a broker client when there is a broker."""
        device_id = self.name("dev")
        if self.broker is None:
            sensor = add_device(self.conn, device_id, org)
        else:
            with self.broker.admin() as dynsec:
                devices.register_device(
                    self.conn,
                    dynsec,
                    device_id=device_id,
                    site_id="site-1",
                    sensors=[devices.SensorDefinition("pm2_5", "pm2_5", "ug/m3")],
                    organisation_id=org,
                )
            row = self.conn.execute(
                "SELECT id FROM sensors WHERE device_id = %s", (device_id,)
            ).fetchone()
            assert row is not None
            sensor = row[0]
        self.conn.execute(
            "INSERT INTO readings (time, sensor_id, value)"
            " SELECT %s + g * interval '1 minute', %s, g FROM generate_series(1, %s) g",
            (T0, sensor, readings),
        )
        fill_rollups(self.conn)
        self.conn.commit()
        return device_id

    def quarantined(self, org: str) -> tuple[str, int]:
        """A device of `org` and a message of it in the quarantine."""
        device_id = self.device(org)
        row = self.conn.execute(
            "INSERT INTO quarantine (topic, device_id, reason, payload, claimed_seq)"
            " VALUES (%s, %s, 'undecodable telemetry batch: matrix', 'LL', 7) RETURNING id",
            (f"livinglab/v1/{device_id}/telemetry", device_id),
        ).fetchone()
        assert row is not None
        self.conn.commit()
        return device_id, row[0]

    def trial(self, org: str, state: str, *, device: str | None = None) -> int:
        return make_trial(self.conn, org, state=state, device=device)

    def grant(self, trial_id: int) -> int:
        grant = grants.create_grant(
            self.conn,
            CLI,
            trial_id,
            grant=GrantCreate(
                organisation_id="ul-fe", starts_at=T0, ends_at=T0 + timedelta(days=7)
            ),
        )
        self.conn.commit()
        return grant.id


BUILDERS: dict[tuple[str, str], Callable[[Setup, str], Call]] = {}


def builds(method: str, path: str) -> Callable[..., Any]:
    def register(
        builder: Callable[[Setup, str], Call],
    ) -> Callable[[Setup, str], Call]:
        BUILDERS[(method, path)] = builder
        return builder

    return register


def _ids(response: httpx.Response) -> set[str]:
    return {item["id"] for item in response.json()}


def _sees(role: str, org: str) -> bool:
    """Whether `role` sees an object of `org` in a list: partners see only their own."""
    return role != "partner" or org == "startup-a"


@builds("GET", "/api/v1/health")
def _health(s: Setup, org: str) -> Call:
    return Call(
        "/api/v1/health",
        check=lambda r, _role: r.json() == {"status": "ok", "pending_migrations": []},
    )


@builds("GET", "/api/v1/me")
def _me(s: Setup, org: str) -> Call:
    return Call(
        "/api/v1/me", check=lambda r, _role: r.json()["email"].endswith("@example.si")
    )


@builds("GET", "/api/v1/organisations")
def _organisations(s: Setup, org: str) -> Call:
    return Call(
        "/api/v1/organisations",
        check=lambda r, _role: {"startup-a", "startup-b"} <= _ids(r),
    )


@builds("POST", "/api/v1/organisations")
def _create_organisation(s: Setup, org: str) -> Call:
    new = s.name("org")
    return Call(
        "/api/v1/organisations",
        json={"id": new, "name": "Newcomer d.o.o.", "kind": "company"},
        check=lambda r, _role: r.json()["id"] == new,
    )


@builds("GET", "/api/v1/organisations/{organisation_id}")
def _organisation(s: Setup, org: str) -> Call:
    return Call(
        f"/api/v1/organisations/{org}", check=lambda r, _role: r.json()["id"] == org
    )


@builds("GET", "/api/v1/people")
def _people(s: Setup, org: str) -> Call:
    # Operators see everyone; the others, their own organisation (the viewer's is mol).
    email = f"{PERSON[org]}@example.si"
    return Call(
        "/api/v1/people",
        check=lambda r, role: (
            (email in {p["email"] for p in r.json()})
            == (role == "operator" or (role == "partner" and org == "startup-a"))
        ),
    )


@builds("POST", "/api/v1/people")
def _create_person(s: Setup, org: str) -> Call:
    email = f"{s.name('new')}@example.si"
    return Call(
        "/api/v1/people",
        json={
            "organisation_id": org,
            "name": "Nova",
            "email": email,
            "role": "partner",
        },
        check=lambda r, _role: r.json()["email"] == email,
    )


@builds("POST", "/api/v1/people/{person_id}/tokens")
def _create_person_token(s: Setup, org: str) -> Call:
    person_id = s.world.person_ids[PERSON[org]]
    return Call(
        f"/api/v1/people/{person_id}/tokens",
        json={"name": "matrix"},
        check=lambda r, _role: (
            r.json()["person_id"] == person_id and r.json()["token"].startswith("ll_")
        ),
    )


@builds("GET", "/api/v1/tokens")
def _tokens(s: Setup, org: str) -> Call:
    return Call(
        "/api/v1/tokens",
        check=lambda r, role: (
            {t["person_id"] for t in r.json()} == {s.world.person_ids[role]}
        ),
    )


@builds("POST", "/api/v1/tokens")
def _create_token(s: Setup, org: str) -> Call:
    return Call(
        "/api/v1/tokens",
        json={"name": "matrix"},
        check=lambda r, _role: r.json()["token"].startswith("ll_"),
    )


@builds("DELETE", "/api/v1/tokens/{token_id}")
def _revoke_token(s: Setup, org: str) -> Call:
    token = tokens.create_token(
        s.conn, CLI, person_id=s.world.person_ids[PERSON[org]], token=TokenCreate()
    )
    s.conn.commit()
    return Call(
        f"/api/v1/tokens/{token.id}",
        check=lambda r, _role: r.json()["revoked_at"] is not None,
    )


@builds("GET", "/api/v1/sites")
def _sites(s: Setup, org: str) -> Call:
    return Call("/api/v1/sites", check=lambda r, _role: "site-1" in _ids(r))


@builds("POST", "/api/v1/sites")
def _create_site(s: Setup, org: str) -> Call:
    new = s.name("site")
    return Call(
        "/api/v1/sites",
        json={"id": new, "name": "Rooftop", "host_organisation_id": org},
        check=lambda r, _role: r.json()["host_organisation_id"] == org,
    )


@builds("GET", "/api/v1/sites/{site_id}")
def _site(s: Setup, org: str) -> Call:
    site_id = s.name("site")
    sites.add_site(s.conn, site_id=site_id, name="Rooftop", host_organisation_id=org)
    s.conn.commit()
    return Call(
        f"/api/v1/sites/{site_id}", check=lambda r, _role: r.json()["id"] == site_id
    )


@builds("GET", "/api/v1/devices")
def _devices(s: Setup, org: str) -> Call:
    device_id = s.device(org)
    return Call(
        "/api/v1/devices",
        check=lambda r, role: (device_id in _ids(r)) == _sees(role, org),
    )


@builds("POST", "/api/v1/devices")
def _register_device(s: Setup, org: str) -> Call:
    new = s.name("dev")
    sensor = {"key": "pm2_5", "quantity": "pm2_5", "unit": "ug/m3"}
    return Call(
        "/api/v1/devices",
        json={
            "id": new,
            "site_id": "site-1",
            "organisation_id": org,
            "sensors": [sensor],
        },
        check=lambda r, _role: (
            r.json()["username"] == new and len(r.json()["password"]) >= 16
        ),
    )


@builds("GET", "/api/v1/devices/{device_id}")
def _device(s: Setup, org: str) -> Call:
    device_id = s.device(org)
    return Call(
        f"/api/v1/devices/{device_id}",
        check=lambda r, _role: r.json()["organisation_id"] == org,
    )


@builds("POST", "/api/v1/devices/{device_id}/credentials")
def _rotate(s: Setup, org: str) -> Call:
    device_id = s.device(org)
    return Call(
        f"/api/v1/devices/{device_id}/credentials",
        check=lambda r, _role: (
            r.json()["username"] == device_id and len(r.json()["password"]) >= 16
        ),
    )


@builds("POST", "/api/v1/devices/{device_id}/revoke")
def _revoke_device(s: Setup, org: str) -> Call:
    device_id = s.device(org)
    return Call(
        f"/api/v1/devices/{device_id}/revoke",
        json={"reason": "matrix"},
        check=lambda r, _role: r.json()["revoked"] is True,
    )


@builds("GET", "/api/v1/quarantine")
def _quarantine(s: Setup, org: str) -> Call:
    device_id, _entry = s.quarantined(org)
    return Call(
        "/api/v1/quarantine",
        check=lambda r, role: (
            (device_id in {q["device_id"] for q in r.json()})
            == (role == "operator" or (role == "partner" and org == "startup-a"))
        ),
    )


@builds("GET", "/api/v1/quarantine/{entry_id}")
def _quarantined(s: Setup, org: str) -> Call:
    _device_id, entry = s.quarantined(org)
    return Call(
        f"/api/v1/quarantine/{entry}",
        check=lambda r, _role: r.json()["claimed_seq"] == 7,
    )


@builds("GET", "/api/v1/devices/{device_id}/quarantine")
def _device_quarantine(s: Setup, org: str) -> Call:
    device_id, entry = s.quarantined(org)
    return Call(
        f"/api/v1/devices/{device_id}/quarantine",
        check=lambda r, _role: [q["id"] for q in r.json()] == [entry],
    )


@builds("GET", "/api/v1/devices/{device_id}/events")
def _device_events(s: Setup, org: str) -> Call:
    device_id = s.device(org)
    return Call(
        f"/api/v1/devices/{device_id}/events", check=lambda r, _: r.json() == []
    )


@builds("GET", "/api/v1/devices/{device_id}/delivery")
def _device_delivery(s: Setup, org: str) -> Call:
    device_id = s.device(org)
    return Call(
        f"/api/v1/devices/{device_id}/delivery",
        check=lambda r, _role: r.json()["device_id"] == device_id,
    )


@builds("GET", "/api/v1/devices/{device_id}/config")
def _device_config(s: Setup, org: str) -> Call:
    device_id = s.device(org)
    return Call(
        f"/api/v1/devices/{device_id}/config",
        check=lambda r, _role: r.json()["state"] == "none",
    )


@builds("PUT", "/api/v1/devices/{device_id}/config")
def _set_device_config(s: Setup, org: str) -> Call:
    device_id = s.device(org)
    return Call(
        f"/api/v1/devices/{device_id}/config",
        json={"heartbeat_interval_s": 15, "sensors": {"pm": {"interval_s": 5}}},
        check=lambda r, _role: (
            r.json()["revision"] == 1 and r.json()["state"] == "pending"
        ),
    )


@builds("GET", "/api/v1/trials")
def _trials(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "submitted")
    return Call(
        "/api/v1/trials",
        check=lambda r, role: (trial_id in _ids(r)) == _sees(role, org),
    )


@builds("POST", "/api/v1/trials")
def _create_trial(s: Setup, org: str) -> Call:
    return Call(
        "/api/v1/trials",
        json=trial_input(organisation_id=org).model_dump(mode="json"),
        check=lambda r, _role: (
            r.json()["state"] == "draft" and r.json()["organisation_id"] == org
        ),
    )


@builds("GET", "/api/v1/trials/{trial_id}")
def _trial(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "submitted")
    return Call(
        f"/api/v1/trials/{trial_id}", check=lambda r, _role: r.json()["id"] == trial_id
    )


@builds("PATCH", "/api/v1/trials/{trial_id}")
def _update_trial(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "submitted")
    return Call(
        f"/api/v1/trials/{trial_id}",
        json={"title": "Renamed by the matrix"},
        check=lambda r, _role: r.json()["title"] == "Renamed by the matrix",
    )


@builds("POST", "/api/v1/trials/{trial_id}/transitions")
def _transition(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "submitted")
    return Call(
        f"/api/v1/trials/{trial_id}/transitions",
        json={"action": "withdraw", "reason": "The matrix withdraws it"},
        check=lambda r, _role: r.json()["state"] == "withdrawn",
    )


@builds("GET", "/api/v1/trials/{trial_id}/audit")
def _audit(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "submitted")
    return Call(
        f"/api/v1/trials/{trial_id}/audit",
        check=lambda r, _role: [e["action"] for e in r.json()] == ["create", "submit"],
    )


@builds("POST", "/api/v1/trials/{trial_id}/devices")
def _assign(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "approved")
    device_id = s.device(org)
    period = {
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(days=1)).isoformat(),
    }
    return Call(
        f"/api/v1/trials/{trial_id}/devices",
        json={"device_id": device_id, **period},
        check=lambda r, _role: r.json()["device_id"] == device_id,
    )


@builds("DELETE", "/api/v1/trials/{trial_id}/devices/{assignment_id}")
def _unassign(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "approved", device=s.device(org))
    row = s.conn.execute(
        "SELECT id FROM trial_devices WHERE trial_id = %s", (trial_id,)
    ).fetchone()
    assert row is not None
    return Call(
        f"/api/v1/trials/{trial_id}/devices/{row[0]}",
        check=lambda r, _role: r.content == b"",
    )


@builds("GET", "/api/v1/trials/{trial_id}/grants")
def _grants(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "approved")
    s.grant(trial_id)
    return Call(
        f"/api/v1/trials/{trial_id}/grants",
        check=lambda r, _role: [g["organisation_id"] for g in r.json()] == ["ul-fe"],
    )


@builds("POST", "/api/v1/trials/{trial_id}/grants")
def _create_grant(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "approved")
    period = {
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(days=1)).isoformat(),
    }
    return Call(
        f"/api/v1/trials/{trial_id}/grants",
        json={"organisation_id": "ul-fe", "reason": "Joint paper", **period},
        check=lambda r, _role: r.json()["organisation_id"] == "ul-fe",
    )


@builds("DELETE", "/api/v1/trials/{trial_id}/grants/{grant_id}")
def _revoke_grant(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "approved")
    grant_id = s.grant(trial_id)
    return Call(
        f"/api/v1/trials/{trial_id}/grants/{grant_id}",
        check=lambda r, _role: r.json()["revoked"] is True,
    )


def _raw_range(device_id: str) -> dict[str, Any]:
    return {
        "device": device_id,
        "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=1)).isoformat(),
        "interval": "raw",
    }


@builds("GET", "/api/v1/data")
def _data(s: Setup, org: str) -> Call:
    device_id = s.device(org, readings=3)
    return Call(
        "/api/v1/data",
        params=_raw_range(device_id),
        check=lambda r, _role: [len(x["points"]) for x in r.json()["series"]] == [3],
    )


@builds("GET", "/api/v1/export")
def _export(s: Setup, org: str) -> Call:
    device_id = s.device(org, readings=3)
    return Call(
        "/api/v1/export",
        params={**_raw_range(device_id), "format": "csv"},
        check=lambda r, _role: len(r.text.splitlines()) == 1 + 3,
    )


@builds("GET", "/api/v1/trials/{trial_id}/dossier")
def _dossier(s: Setup, org: str) -> Call:
    trial_id = s.trial(org, "running", device=s.device(org, readings=3))
    return Call(
        f"/api/v1/trials/{trial_id}/dossier",
        check=lambda r, _role: r.content.startswith(b"PK"),  # a zip archive
    )


# The governance endpoints' builders register themselves into BUILDERS on import.
import tests.api.governance_calls  # noqa: E402, F401
