"""Delivery problems without SQL through the API: who reads a device's quarantine (the attacks),
gaps explained by the seq an undecodable batch claimed, completeness per hour and day, the online
rule, and the desired configuration checked exactly as the agent checks it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from livinglab_edge_agent.remote import (
    ConfigRejected,
    Schedule,
    Settings,
    apply_desired,
)
from livinglab_platform.core.errors import InvalidInputError
from livinglab_platform.registry.remote_config import desired_document
from livinglab_platform.registry.schemas import ConfigChange
from tests.api.world import add_device

T = datetime(2026, 12, 1, 8, tzinfo=UTC)


def _quarantine(
    conn, device_id, *, claimed_seq=None, reason="undecodable telemetry batch: x"
):
    row = conn.execute(
        "INSERT INTO quarantine (received_at, topic, device_id, reason, payload, claimed_seq)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (
            T,
            f"livinglab/v1/{device_id}/telemetry",
            device_id,
            reason,
            b"LL\x01\x01",
            claimed_seq,
        ),
    ).fetchone()
    return row[0]


@pytest.fixture
def devices(world):
    """A device of startup-a (the partner's) and one of startup-b, each with a quarantined batch."""
    with psycopg.connect(world.dsn) as conn:
        add_device(conn, "own-01", "startup-a")
        add_device(conn, "foreign-01", "startup-b")
        own = _quarantine(conn, "own-01", reason="own reason")
        foreign = _quarantine(conn, "foreign-01", reason="foreign secret reason")
        conn.commit()
    return own, foreign


def test_a_partner_cannot_read_another_organisations_quarantine(client, world, devices):
    """The attack: failed before, there was no way to read the quarantine, nor a rule for it."""
    own, foreign = devices
    partner = world.headers("partner")
    assert (
        client.get("/api/v1/devices/own-01/quarantine", headers=partner).status_code
        == 200
    )
    response = client.get("/api/v1/devices/foreign-01/quarantine", headers=partner)
    assert response.status_code == 404
    assert "foreign secret" not in response.text
    response = client.get(f"/api/v1/quarantine/{foreign}", headers=partner)
    assert response.status_code == 404
    assert "foreign secret" not in response.text
    listed = client.get("/api/v1/quarantine", headers=partner).json()
    assert [q["id"] for q in listed] == [own]
    # Asking the list for the foreign device by name changes nothing.
    response = client.get(
        "/api/v1/quarantine", params={"device": "foreign-01"}, headers=partner
    )
    assert response.status_code == 404
    # Viewers see devices, not what they sent.
    viewer = world.headers("viewer")
    assert (
        client.get("/api/v1/devices/own-01/quarantine", headers=viewer).status_code
        == 403
    )
    assert client.get("/api/v1/quarantine", headers=viewer).json() == []
    operator = client.get(
        "/api/v1/quarantine", headers=world.headers("operator")
    ).json()
    assert {q["id"] for q in operator} >= {own, foreign}


def _deliveries(conn, device_id, seqs_at):
    conn.cursor().executemany(
        "INSERT INTO deliveries (device_id, seq, readings, received_at) VALUES (%s, %s, 10, %s)",
        [(device_id, seq, at) for seq, at in seqs_at],
    )


def test_gaps_are_explained_by_the_claimed_seq(client, world):
    with psycopg.connect(world.dsn) as conn:
        add_device(conn, "gappy-01", "startup-a")
        # Hour 8: seqs 1-3; hour 9: 6-7 (4 undecodable, 5 never arrived); hour 11: 8.
        _deliveries(
            conn,
            "gappy-01",
            [
                (1, T),
                (2, T),
                (3, T + timedelta(minutes=30)),
                (6, T + timedelta(hours=1)),
                (7, T + timedelta(hours=1, minutes=5)),
                (8, T + timedelta(hours=3)),
            ],
        )
        entry = _quarantine(conn, "gappy-01", claimed_seq=4)
        conn.commit()
    response = client.get(
        "/api/v1/devices/gappy-01/delivery",
        params={"from": "2026-12-01T08:00:00Z", "to": "2026-12-01T12:00:00Z"},
        headers=world.headers("partner"),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert [(b["batches"], b["expected"]) for b in report["buckets"]] == [
        (3, 3),
        (2, 4),
        (1, 1),
    ]
    assert (report["batches"], report["expected"]) == (6, 8)
    assert report["completeness"] == pytest.approx(0.75)
    [gap] = report["gaps"]
    assert (gap["first_missing"], gap["last_missing"], gap["missing"]) == (4, 5, 2)
    assert gap["quarantined"] == [entry]
    # A viewer sees the gap but not which quarantine entry explains it.
    viewer = client.get(
        "/api/v1/devices/gappy-01/delivery",
        params={
            "from": "2026-12-01T08:00:00Z",
            "to": "2026-12-01T12:00:00Z",
            "interval": "day",
        },
        headers=world.headers("viewer"),
    ).json()
    assert viewer["gaps"][0]["quarantined"] == []
    assert [(b["batches"], b["expected"]) for b in viewer["buckets"]] == [(6, 8)]


def test_a_retained_online_from_a_dead_device_is_not_believed(client, world):
    """Failed before: `online` was the last status's word, however old."""
    with psycopg.connect(world.dsn) as conn:
        add_device(conn, "dead-01", "startup-a")
        add_device(conn, "alive-01", "startup-a")
        conn.execute(
            "INSERT INTO device_status (device_id, online, last_seen) VALUES"
            " ('dead-01', true, now() - interval '91 seconds'),"
            " ('alive-01', true, now() - interval '80 seconds')"
        )
        conn.commit()
    headers = world.headers("operator")
    dead = client.get("/api/v1/devices/dead-01", headers=headers).json()
    alive = client.get("/api/v1/devices/alive-01", headers=headers).json()
    assert (dead["online"], dead["silent_after_s"]) == (False, 90.0)
    assert alive["online"] is True
    # A longer heartbeat interval in the desired configuration widens the window.
    with psycopg.connect(world.dsn) as conn:
        conn.execute(
            "INSERT INTO device_configs (device_id, revision, document, set_by)"
            """ VALUES ('dead-01', 1, '{"v": 1, "revision": 1, "heartbeat_interval_s": 60}', 't')"""
        )
        conn.commit()
    dead = client.get("/api/v1/devices/dead-01", headers=headers).json()
    assert (dead["online"], dead["silent_after_s"]) == (True, 180.0)


# Documents the platform builds from a change, judged by both sides.
CHANGES = [
    {"batch_size": 100},
    {"batch_size": 0},
    {"batch_size": 200_001},
    {"batch_max_age_s": 0.04},
    {"batch_max_age_s": 0.05},
    {"heartbeat_interval_s": 3600},
    {"heartbeat_interval_s": 3601},
    {"heartbeat_interval_s": 0.5},
    {"sensors": {"air": {"interval_s": 0.1}}},
    {"sensors": {"air": {"interval_s": 0.09}}},
    {"sensors": {"air": {"interval_s": 86_400}}},
    {"sensors": {"air": {"interval_s": 86_401}}},
    {"sensors": {"air": {"enabled": False}}},
    {"sensors": {"air": {"interval_s": float("nan")}}},
    {"sensors": {"air": {"interval_s": float("inf")}}},
]


@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_the_platform_refuses_exactly_what_the_agent_refuses(change):
    settings = Settings(
        batch_size=50,
        batch_max_age_s=1.0,
        heartbeat_interval_s=30.0,
        sensors={"air": Schedule(enabled=True, interval_s=10.0)},
    )
    try:
        document = desired_document(
            None, ConfigChange.model_validate(change), revision=1
        )
    except InvalidInputError as exc:
        platform_accepts, field = False, exc.field
    else:
        platform_accepts, field = True, None
    try:
        apply_desired(
            settings,
            json.dumps(
                document if platform_accepts else {"revision": 1, **change}
            ).encode(),
        )
    except ConfigRejected:
        agent_accepts = False
    else:
        agent_accepts = True
    assert platform_accepts == agent_accepts, (change, field)
    if not platform_accepts:
        assert field is not None
        assert field.split(".")[0] in change
