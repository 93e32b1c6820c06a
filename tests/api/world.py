"""A small living lab for API tests: two partner organisations, an operator, a viewer, tokens.

`own` objects belong to startup-a (where `partner` works); `foreign` ones to startup-b.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from livinglab_platform.access import cli_principal
from livinglab_platform.registry import organisations, people, sites, tokens
from livinglab_platform.registry.schemas import (
    Kind,
    OrganisationCreate,
    PersonCreate,
    Role,
    TokenCreate,
)
from livinglab_platform.trials import assignments, registration, transitions
from livinglab_platform.trials.schemas import (
    AssignmentCreate,
    TransitionRequest,
    TrialCreate,
)

CLI = cli_principal("tests")
T0 = datetime(2026, 5, 1, tzinfo=UTC)


@dataclass
class World:
    dsn: str
    tokens: dict[str, str] = field(default_factory=dict)
    person_ids: dict[str, int] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        """Authorization headers of `operator`, `partner` (startup-a), `other` (startup-b),
        `viewer`, or none for `anonymous`."""
        if who == "anonymous":
            return {}
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def trial_input(**overrides: Any) -> TrialCreate:
    values: dict[str, Any] = {
        "title": "Low-cost PM sensors on a tram stop",
        "technology": "Optical particle counter",
        "technology_description": "Laser scattering, heated inlet",
        "trl_start": 4,
        "trl_target": 6,
        "starts_on": date(2026, 5, 1),
        "ends_on": date(2026, 9, 30),
        "site_ids": ["site-1"],
        "success_criteria": "R2 >= 0.8 against the reference station",
        "data_sharing_terms": "Aggregates public after the trial",
    }
    values.update(overrides)
    return TrialCreate(**values)


def add_device(
    conn: psycopg.Connection[Any], device_id: str, organisation_id: str | None
) -> int:
    """A device row with one sensor, without a broker client; returns the sensor id."""
    conn.execute(
        "INSERT INTO devices (id, site_id, organisation_id) VALUES (%s, 'site-1', %s)",
        (device_id, organisation_id),
    )
    row = conn.execute(
        "INSERT INTO sensors (device_id, key, quantity, unit) VALUES (%s, 'pm2_5', 'pm2_5', 'ug/m3')"
        " RETURNING id",
        (device_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def make_trial(
    conn: psycopg.Connection[Any],
    organisation_id: str,
    *,
    state: str = "draft",
    device: str | None = None,
) -> int:
    """A trial of `organisation_id` walked by an operator to `state`, optionally with a device."""
    trial = registration.create_trial(
        conn, CLI, trial=trial_input(organisation_id=organisation_id)
    )
    if device is not None:
        assignments.assign_device(
            conn,
            CLI,
            trial.id,
            assignment=AssignmentCreate(
                device_id=device, starts_at=T0, ends_at=T0 + timedelta(days=30)
            ),
        )
    path = {
        "draft": [],
        "submitted": ["submit"],
        "approved": ["submit", "approve"],
        "rejected": ["submit", "reject"],
        "deploying": ["submit", "approve", "deploy"],
        "running": ["submit", "approve", "deploy", "start"],
        "evaluating": ["submit", "approve", "deploy", "start", "evaluate"],
        "completed": ["submit", "approve", "deploy", "start", "evaluate", "complete"],
        "withdrawn": ["withdraw"],
    }[state]
    for action in path:
        transitions.transition(
            conn,
            CLI,
            trial.id,
            request=TransitionRequest(action=action, reason="test"),  # type: ignore[arg-type]
        )
    conn.commit()
    return trial.id


def seed(dsn: str) -> World:
    """Organisations, a site, one person per role with a token."""
    world = World(dsn=dsn)
    with psycopg.connect(dsn) as conn:
        for org_id, name, kind in [
            ("mol", "Mestna občina Ljubljana", Kind.city_administration),
            ("lab", "Living lab operations", Kind.public_institution),
            ("startup-a", "Startup A d.o.o.", Kind.company),
            ("startup-b", "Startup B d.o.o.", Kind.company),
            ("ul-fe", "UL Fakulteta za elektrotehniko", Kind.education_research),
        ]:
            organisations.create_organisation(
                conn,
                CLI,
                organisation=OrganisationCreate(id=org_id, name=name, kind=kind),
            )
        sites.add_site(
            conn,
            site_id="site-1",
            name="Tehnološki park",
            latitude=46.05,
            longitude=14.47,
        )
        for who, org, role in [
            ("operator", "lab", Role.operator),
            ("partner", "startup-a", Role.partner),
            ("other", "startup-b", Role.partner),
            ("viewer", "mol", Role.viewer),
            ("researcher", "ul-fe", Role.partner),
        ]:
            person = people.create_person(
                conn,
                CLI,
                person=PersonCreate(
                    organisation_id=org,
                    name=who.title(),
                    email=f"{who}@example.si",
                    role=role,
                ),
            )
            world.person_ids[who] = person.id
            world.tokens[who] = tokens.create_token(
                conn, CLI, person_id=person.id, token=TokenCreate(name="tests")
            ).token
        conn.commit()
    return world
