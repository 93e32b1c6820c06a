"""The API's `sensor` takes DEVICE/KEY beside numeric ids, and a name is no existence oracle."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from tests.api.readings import insert_readings
from tests.api.world import T0, World, add_device

RANGE = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}


def test_a_sensor_by_name_or_id_gives_the_same_series(client, world: World):
    with psycopg.connect(world.dsn) as conn:
        sensor = add_device(conn, "own-dev", "startup-a")
        insert_readings(conn, sensor, start=T0, n=10)
        conn.commit()
    answers = []
    for name in ("own-dev/pm2_5", str(sensor)):
        r = client.get(
            "/api/v1/data",
            headers=world.headers("partner"),
            params={**RANGE, "sensor": name, "interval": "raw"},
        )
        assert r.status_code == 200, r.text
        answers.append(r.json()["series"])
    assert answers[0] == answers[1]
    assert answers[0][0]["sensor_id"] == sensor
    assert len(answers[0][0]["points"]) == 10


def test_a_partner_cannot_tell_a_hidden_sensor_from_a_missing_one(client, world: World):
    # The attack: startup-a's partner probes for startup-b's sensor by its name.
    with psycopg.connect(world.dsn) as conn:
        add_device(conn, "foreign-dev", "startup-b")
        conn.commit()
    details = {}
    for name in ("foreign-dev/pm2_5", "ghost-dev/pm2_5"):
        r = client.get(
            "/api/v1/data",
            headers=world.headers("partner"),
            params={**RANGE, "sensor": name},
        )
        assert r.status_code == 404, r.text
        details[name] = r.json()["detail"].replace(name, "NAME")
    assert details["foreign-dev/pm2_5"] == details["ghost-dev/pm2_5"]
    assert (
        details["ghost-dev/pm2_5"] == "sensor 'NAME' not found, or not visible to you"
    )


def test_a_malformed_sensor_name_names_the_field(client, world: World):
    r = client.get(
        "/api/v1/data",
        headers=world.headers("operator"),
        params={**RANGE, "sensor": "no-slash"},
    )
    assert r.status_code == 400, r.text
    assert "DEVICE/KEY" in r.json()["detail"]
