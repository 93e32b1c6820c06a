"""Devices through the API with a real broker: credentials shown once, rotation, revocation, status."""

from __future__ import annotations

import queue
import threading
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
import pytest

from livinglab_edge_agent.wire import topic
from livinglab_platform.core import db
from livinglab_platform.core.errors import ConflictError
from livinglab_platform.registry import devices
from tests.api.world import CLI, World
from tests.broker.test_identities import SERVICE_NAMES
from tests.conftest import Broker

TIMEOUT_S = 10
SENSORS = [{"key": "pm2_5", "quantity": "pm2_5", "unit": "ug/m3"}]


class Device:
    """An MQTT v5 connection as the device would make it; records CONNACK and disconnects."""

    def __init__(self, broker: Broker, device_id: str, password: str) -> None:
        self.connacks: queue.Queue[mqtt.ReasonCode] = queue.Queue()
        self.disconnects: queue.Queue[mqtt.ReasonCode] = queue.Queue()
        self.pubacks: queue.Queue[mqtt.ReasonCode] = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(device_id, password)
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.connacks.put(rc)
        self.client.on_disconnect = lambda _c, _u, _f, rc, _p: self.disconnects.put(rc)
        self.client.on_publish = lambda _c, _u, _mid, rc, _p: self.pubacks.put(rc)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.connack = self.connacks.get(timeout=TIMEOUT_S)

    def publish(self, name: str) -> mqtt.ReasonCode:
        self.client.publish(name, b'{"v":1}', qos=1)
        return self.pubacks.get(timeout=TIMEOUT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _connack(broker: Broker, device_id: str, password: str) -> mqtt.ReasonCode:
    device = Device(broker, device_id, password)
    device.close()
    return device.connack


def _register(client, world: World, who: str, **fields: object):
    return client.post(
        "/api/v1/devices",
        headers=world.headers(who),
        json={"site_id": "site-1", "sensors": SENSORS, **fields},
    )


def test_credentials_are_shown_once_and_let_the_device_publish(
    broker_client, world: World, broker: Broker
):
    r = _register(broker_client, world, "partner", id="pm-tram-1")
    assert r.status_code == 201, r.text
    credentials = r.json()
    assert credentials["username"] == credentials["client_id"] == "pm-tram-1"
    password = credentials["password"]
    assert len(password) >= 16

    # Later answers never carry it: the platform keeps no copy.
    device = broker_client.get(
        "/api/v1/devices/pm-tram-1", headers=world.headers("partner")
    )
    assert device.status_code == 200
    assert device.json()["organisation_id"] == "startup-a"
    assert "password" not in device.json()
    listed = broker_client.get("/api/v1/devices", headers=world.headers("operator"))
    assert password not in device.text + listed.text

    session = Device(broker, "pm-tram-1", password)
    try:
        assert not session.connack.is_failure
        assert not session.publish(topic("pm-tram-1", "telemetry")).is_failure
        # ... and only its own topics.
        assert session.publish(topic("someone-else", "telemetry")).is_failure
    finally:
        session.close()


def test_rotation_replaces_the_password(broker_client, world: World, broker: Broker):
    old = _register(broker_client, world, "partner", id="pm-tram-2").json()["password"]
    r = broker_client.post(
        "/api/v1/devices/pm-tram-2/credentials", headers=world.headers("partner")
    )
    assert r.status_code == 200, r.text
    new = r.json()["password"]
    assert new != old
    assert _connack(broker, "pm-tram-2", old).is_failure
    assert not _connack(broker, "pm-tram-2", new).is_failure


def test_revocation_disconnects_at_once_and_refuses_logins(
    broker_client, world: World, broker: Broker
):
    password = _register(broker_client, world, "partner", id="pm-tram-3").json()[
        "password"
    ]
    session = Device(broker, "pm-tram-3", password)
    try:
        assert not session.connack.is_failure
        r = broker_client.post(
            "/api/v1/devices/pm-tram-3/revoke",
            headers=world.headers("partner"),
            json={"reason": "Sensor stolen from the tram stop"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["revoked"] is True
        # At once: not after a keep-alive timeout (60 s), which is how long a broker that
        # merely refused new logins would leave the session open.
        session.disconnects.get(timeout=2)
    finally:
        session.close()
    assert _connack(broker, "pm-tram-3", password).is_failure
    # Its registry rows stay, and a revoked device gets no new password.
    r = broker_client.post(
        "/api/v1/devices/pm-tram-3/credentials", headers=world.headers("operator")
    )
    assert r.status_code == 409, r.text
    assert "revoked" in r.json()["detail"]


def test_who_may_register_and_what_is_refused(broker_client, world: World):
    r = _register(
        broker_client, world, "partner", id="pm-b", organisation_id="startup-b"
    )
    assert r.status_code == 403, r.text
    assert "own organisation" in r.json()["detail"]
    r = _register(broker_client, world, "viewer", id="pm-v")
    assert r.status_code == 403, r.text
    r = _register(
        broker_client, world, "operator", id="pm-b", organisation_id="startup-b"
    )
    assert r.status_code == 201, r.text
    r = _register(broker_client, world, "partner", id="pm-b")
    assert r.status_code == 409, r.text
    assert "pm-b" in r.json()["detail"]
    r = _register(broker_client, world, "partner", id="pm-x", site_id="nowhere")
    assert r.status_code == 400, r.text
    assert "'nowhere'" in r.json()["detail"]
    for refused in ("pm-v", "pm-x"):
        r = broker_client.get(
            f"/api/v1/devices/{refused}", headers=world.headers("operator")
        )
        assert r.status_code == 404, f"{refused} was registered after all"
    owner = broker_client.get("/api/v1/devices/pm-b", headers=world.headers("operator"))
    assert owner.json()["organisation_id"] == "startup-b"


def test_status_comes_from_heartbeats_and_deliveries(broker_client, world: World):
    assert _register(broker_client, world, "partner", id="pm-tram-4").status_code == 201
    assert _register(broker_client, world, "partner", id="pm-silent").status_code == 201
    # Heard 10 s ago: online by the online rule (registry/fleet.py: silent after 90 s).
    heard = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    with psycopg.connect(world.dsn) as conn:
        conn.execute(
            "INSERT INTO device_status (device_id, online, last_seen, outbox_depth,"
            " agent_version, clock_synced, clock_offset_ns)"
            " VALUES ('pm-tram-4', true, %s, 12, '0.3.1', true, 1500000)",
            (heard,),
        )
        # Batches 1, 2 and 4 arrived; 3 is missing.
        for seq in (1, 2, 4):
            conn.execute(
                "INSERT INTO deliveries (device_id, seq, readings, received_at)"
                " VALUES ('pm-tram-4', %s, 10, %s)",
                (seq, heard),
            )
        conn.commit()
    r = broker_client.get("/api/v1/devices", headers=world.headers("viewer"))
    assert r.status_code == 200, r.text
    devices = {d["id"]: d for d in r.json()}
    status = devices["pm-tram-4"]
    assert status["online"] is True
    assert datetime.fromisoformat(status["last_seen"]) == heard
    assert status["outbox_depth"] == 12
    assert status["clock_synced"] is True
    assert status["clock_offset_ms"] == 1.5
    assert status["agent_version"] == "0.3.1"
    assert status["completeness"] == 0.75
    assert status["batches_received"] == 3
    silent = devices["pm-silent"]
    assert silent["online"] is None
    assert silent["last_seen"] is None
    assert silent["completeness"] is None
    assert silent["batches_received"] == 0


def test_a_concurrent_registration_of_the_same_id_is_a_conflict(
    world: World, broker: Broker
):
    with psycopg.connect(world.dsn) as first, psycopg.connect(world.dsn) as second:
        first.execute("INSERT INTO devices (id, site_id) VALUES ('pm-race', 'site-1')")
        # `second` passes the duplicate check (the row is not committed yet), then its INSERT
        # waits for `first`, which commits meanwhile.
        threading.Timer(0.5, first.commit).start()
        with (
            broker.admin() as dynsec,
            pytest.raises(ConflictError, match="'pm-race' is already registered"),
        ):
            devices.register_device(
                second,
                dynsec,
                device_id="pm-race",
                site_id="site-1",
                sensors=[devices.SensorDefinition("pm2_5", "pm2_5", "ug/m3")],
            )


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_a_device_cannot_take_a_service_identity(
    broker_client, world: World, broker: Broker, name: str
):
    # The takeover of the security review: a device named like the ingest's client id.
    r = _register(broker_client, world, "partner", id=name)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["id"]
    with psycopg.connect(world.dsn) as conn:
        stored = conn.execute("SELECT count(*) FROM devices WHERE id = %s", (name,))
        assert stored.fetchone() == (0,)
    # The broker was not touched: no device role, and a service's client keeps its own roles.
    with broker.admin() as dynsec:
        (role,) = dynsec.run(
            {"command": "getRole", "rolename": f"device-{name}"},
            ignore=("Role not found",),
        )
    assert role.get("error") == "Role not found"
    client = _broker_client(broker, name).get("data", {}).get("client", {})
    assert not any(r["rolename"].startswith("device-") for r in client.get("roles", []))


def test_a_device_cannot_take_a_broker_clients_name(
    broker_client, world: World, broker: Broker
):
    # A client the broker has that is not a device (one left from before the service namespace).
    with broker.admin() as dynsec:
        dynsec.run({"command": "createClient", "username": "ingest", "password": "x"})
    r = _register(broker_client, world, "operator", id="ingest")
    assert r.status_code == 409, r.text
    assert "already has a client named 'ingest'" in r.json()["detail"]
    gone = broker_client.get(
        "/api/v1/devices/ingest", headers=world.headers("operator")
    )
    assert gone.status_code == 404
    # Nothing is left on the broker either: the role made for the device was removed again.
    with broker.admin() as dynsec:
        (answer,) = dynsec.run(
            {"command": "getRole", "rolename": "device-ingest"},
            ignore=("Role not found",),
        )
    assert answer.get("error") == "Role not found"


def _broker_client(broker: Broker, device_id: str) -> dict[str, object]:
    with broker.admin() as dynsec:
        (answer,) = dynsec.run(
            {"command": "getClient", "username": device_id},
            ignore=("Client not found",),
        )
    return answer


def _register_then_fail_at_commit(conn: psycopg.Connection, broker: Broker) -> None:
    with broker.admin() as dynsec, db.unit_of_work(conn):
        devices.register_device(
            conn,
            dynsec,
            device_id="pm-undone",
            site_id="site-1",
            sensors=[devices.SensorDefinition("pm2_5", "pm2_5", "ug/m3")],
        )
        assert "client" in _broker_client(broker, "pm-undone").get("data", {})
        conn.execute("INSERT INTO fails_at_commit VALUES (1), (1)")


def test_a_registration_whose_commit_fails_leaves_no_broker_client(
    world: World, broker: Broker
):
    with psycopg.connect(world.dsn) as conn:
        # A deferred constraint is checked at COMMIT: the unit of work fails at its very end,
        # after the broker has accepted the device's client.
        conn.execute(
            "CREATE TABLE fails_at_commit (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
        )
        conn.commit()
        with pytest.raises(psycopg.errors.UniqueViolation):
            _register_then_fail_at_commit(conn, broker)
        row = conn.execute("SELECT 1 FROM devices WHERE id = 'pm-undone'").fetchone()
        assert row is None
    assert _broker_client(broker, "pm-undone").get("error") == "Client not found"


def _revoke_then_fail(conn: psycopg.Connection, broker: Broker) -> None:
    with broker.admin() as dynsec, db.unit_of_work(conn):
        devices.revoke(conn, dynsec, CLI, device_id="pm-kept")
        raise RuntimeError("something fails after the revocation")


def test_a_revocation_whose_transaction_fails_leaves_the_device_enabled(
    broker_client, world: World, broker: Broker
):
    registered = _register(broker_client, world, "operator", id="pm-kept")
    assert registered.status_code == 201, registered.text
    with psycopg.connect(world.dsn) as conn:
        with pytest.raises(RuntimeError, match="after the revocation"):
            _revoke_then_fail(conn, broker)
        enabled = conn.execute("SELECT enabled FROM devices WHERE id = 'pm-kept'")
        assert enabled.fetchone() == (True,)
    device = Device(broker, "pm-kept", registered.json()["password"])
    try:
        assert not device.connack.is_failure, device.connack
    finally:
        device.close()


def test_a_unit_of_work_refuses_a_connection_with_a_transaction_open(world: World):
    with psycopg.connect(world.dsn) as conn:
        conn.execute("SELECT 1")
        with (
            pytest.raises(RuntimeError, match="no transaction open"),
            db.unit_of_work(conn),
        ):
            pass
