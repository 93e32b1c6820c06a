"""Web page fixtures: the application on a fresh, seeded database, and signing in as someone."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from livinglab_platform.api import create_app
from livinglab_platform.core.settings import ApiSettings
from livinglab_platform.trials import assignments, registration, transitions
from livinglab_platform.trials.schemas import AssignmentCreate, TransitionRequest
from tests.api.conftest import broker_settings
from tests.api.readings import fill_rollups
from tests.api.world import CLI, World, add_device, seed, trial_input

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def world(dsn: str) -> World:
    return seed(dsn)


@pytest.fixture
def client(world: World, api_dsn: str) -> Iterator[TestClient]:
    """The pages on the world's database (as the API's role); nobody signed in yet."""
    app = create_app(ApiSettings(database_url=api_dsn), broker_settings(None))
    with TestClient(app) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = CSRF.search(html)
    assert match is not None, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, world: World, who: str) -> None:
    """Sign `who` in through the sign-in form, as a browser would."""
    page = client.get("/")
    assert page.status_code == 200, page.text
    answer = client.post(
        "/signin", data={"token": world.tokens[who], "csrf": csrf_of(page.text)}
    )
    assert answer.status_code == 200, answer.text
    assert answer.url.path == "/trials"


def approved_trial_with_readings(dsn: str) -> tuple[int, int]:
    """An approved trial of startup-a whose device dev-a (pm2_5, temperature) has readings
    every 5 minutes of the last day, but for an hour's outage; returns (trial, pm2_5 sensor)."""
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn:
        sensor = add_device(conn, "dev-a", "startup-a")
        row = conn.execute(
            "INSERT INTO sensors (device_id, key, quantity, unit)"
            " VALUES ('dev-a', 'temperature', 'temperature', '°C') RETURNING id"
        ).fetchone()
        assert row is not None
        temperature = int(row[0])
        trial = registration.create_trial(
            conn, CLI, trial=trial_input(organisation_id="startup-a")
        )
        assignments.assign_device(
            conn,
            CLI,
            trial.id,
            assignment=AssignmentCreate(
                device_id="dev-a",
                starts_at=now - timedelta(days=2),
                ends_at=now + timedelta(days=2),
            ),
        )
        for action in ("submit", "approve"):
            transitions.transition(
                conn,
                CLI,
                trial.id,
                request=TransitionRequest(action=action),  # type: ignore[arg-type]
            )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO readings (time, sensor_id, value) VALUES (%s, %s, %s)",
                [
                    (now - timedelta(minutes=5 * m), sensor_id, value)
                    for m in range(1, 288)
                    if not 108 <= m < 120
                    for sensor_id, value in (
                        (sensor, 14 + 8 * math.sin(m / 46) + (m * 7919 % 13) / 4),
                        (temperature, 6 + 5 * math.sin((m - 80) / 46)),
                    )
                ],
            )
        conn.execute(
            "INSERT INTO device_status (device_id, online, last_seen, outbox_depth,"
            " clock_synced) VALUES ('dev-a', true, %s, 3, true)",
            (now,),
        )
        conn.execute(
            "INSERT INTO deliveries (device_id, seq, readings, received_at)"
            " SELECT 'dev-a', s, 10, now() FROM generate_series(1, 10) s WHERE s <> 5"
        )
        fill_rollups(conn)
        conn.commit()
    return trial.id, sensor


# The demo's devices and sensors (lab/.../demo/pilots.py), with the ASCII units devices send.
DEMO_SENSORS = {
    "tp-air-01": (
        ("air_temperature", "degC", 4.0, 6.0),
        ("relative_humidity", "%", 70.0, 15.0),
        ("air_pressure", "hPa", 986.6, 0.05),
    ),
    "fe-pm-01": (("pm2_5", "ug/m3", 14.0, 8.0), ("pm10", "ug/m3", 22.0, 10.0)),
    "center-noise-01": (("noise_level", "dBA", 58.0, 6.0),),
}
DEMO_DAYS = 35


def demo_trial(dsn: str) -> int:
    """An approved trial of startup-a with the demo's three devices and every demo quantity,
    readings every 10 minutes over the last DEMO_DAYS days but for a six-hour outage yesterday,
    and a submitted trial for the queue; returns the approved trial's id."""
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn:
        trial = registration.create_trial(
            conn,
            CLI,
            trial=trial_input(
                organisation_id="startup-a",
                title="Kakovost zraka in hrup v središču",
                starts_on=(now - timedelta(days=DEMO_DAYS + 5)).date(),
                ends_on=(now + timedelta(days=20)).date(),
            ),
        )
        for device_id, sensors in DEMO_SENSORS.items():
            conn.execute(
                "INSERT INTO devices (id, site_id, organisation_id) VALUES (%s, 'site-1', 'startup-a')",
                (device_id,),
            )
            conn.execute(
                "INSERT INTO device_status (device_id, online, last_seen, outbox_depth,"
                " clock_synced) VALUES (%s, true, %s, 0, true)",
                (device_id, now),
            )
            for key, unit, level, swing in sensors:
                conn.execute(
                    "INSERT INTO sensors (device_id, key, quantity, unit) VALUES (%s, %s, %s, %s)",
                    (device_id, key, key, unit),
                )
                conn.execute(
                    "INSERT INTO readings (time, sensor_id, value)"
                    " SELECT t, s.id, %(level)s + %(swing)s * sin(extract(epoch FROM t) / 13751)"
                    "   FROM sensors s, generate_series(%(start)s::timestamptz, %(now)s, '10 minutes') t"
                    "  WHERE s.device_id = %(device)s AND s.key = %(key)s"
                    "    AND NOT t BETWEEN %(now)s - interval '30 hours' AND %(now)s - interval '24 hours'",
                    {
                        "level": level,
                        "swing": swing,
                        "start": now - timedelta(days=DEMO_DAYS),
                        "now": now,
                        "device": device_id,
                        "key": key,
                    },
                )
            for part in range(3):
                assignments.assign_device(
                    conn,
                    CLI,
                    trial.id,
                    assignment=AssignmentCreate(
                        device_id=device_id,
                        starts_at=now - timedelta(days=DEMO_DAYS - 12 * part),
                        ends_at=now - timedelta(days=DEMO_DAYS - 12 * part - 10)
                        if part < 2
                        else now + timedelta(days=20),
                    ),
                )
        for action in ("submit", "approve"):
            transitions.transition(
                conn,
                CLI,
                trial.id,
                request=TransitionRequest(action=action),  # type: ignore[arg-type]
            )
        queued = registration.create_trial(
            conn, CLI, trial=trial_input(organisation_id="startup-a")
        )
        transitions.transition(
            conn,
            CLI,
            queued.id,
            request=TransitionRequest(action="submit"),  # type: ignore[arg-type]
        )
        conn.commit()
    return trial.id
