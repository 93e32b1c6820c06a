"""`livinglab sites add`, `devices add` and `broker bootstrap` against the real database and broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import psycopg

from livinglab_edge_agent.wire import topic
from livinglab_platform.core.identities import INGEST_USER
from tests.broker.test_isolation import Session


def _livinglab(*args, dsn, broker):
    env = os.environ | {
        "LIVINGLAB_DATABASE_URL": dsn,
        "LIVINGLAB_MQTT_HOST": broker.host,
        "LIVINGLAB_MQTT_PORT": str(broker.port),
        "LIVINGLAB_MQTT_ADMIN_PASSWORD": broker.server.admin_password,
        "LIVINGLAB_MQTT_PASSWORD": broker.ingest_password,
        "LIVINGLAB_MQTT_PLATFORM_PASSWORD": broker.platform_password,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "livinglab_platform", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _owner(dsn, broker):
    added = _livinglab(
        "orgs", "add", "zrak-io", "--name", "Zrak.io", "--kind", "company",
        dsn=dsn, broker=broker,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


def test_register_a_device_and_connect_with_the_printed_password(dsn, broker):
    _owner(dsn, broker)
    site = _livinglab(
        "sites",
        "add",
        "tp-ljubljana",
        "--name",
        "Tehnološki park Ljubljana",
        dsn=dsn,
        broker=broker,
    )
    assert site.returncode == 0, site.stderr
    added = _livinglab(
        "devices", "add", "tp-air-02", "--site", "tp-ljubljana", "--org", "zrak-io",
        "--sensor", "air_temperature:air_temperature:degC", "--sensor", "pm2_5:pm2_5:ug/m3",
        dsn=dsn, broker=broker,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    password = re.search(r"password\s+=\s+(\S+)", added.stdout).group(1)

    with psycopg.connect(dsn) as conn:
        sensors = conn.execute(
            "SELECT key, quantity, unit FROM sensors WHERE device_id = 'tp-air-02' ORDER BY key"
        ).fetchall()
    assert sensors == [
        ("air_temperature", "air_temperature", "degC"),
        ("pm2_5", "pm2_5", "ug/m3"),
    ]

    device = Session(broker, username="tp-air-02", password=password)
    try:
        assert not device.connect_code.is_failure
        assert not device.publish(
            topic("tp-air-02", "status"), b'{"v":1,"state":"online"}'
        ).is_failure
        assert device.publish(topic("other", "telemetry")).is_failure
    finally:
        device.close()


def test_registration_errors_are_readable_and_leave_nothing_behind(dsn, broker):
    _owner(dsn, broker)

    def add(device_id, site="s1", sensor="t:t:degC"):
        return _livinglab(
            "devices",
            "add",
            device_id,
            "--site",
            site,
            "--org",
            "zrak-io",
            "--sensor",
            sensor,
            dsn=dsn,
            broker=broker,
        )

    unknown_site = add("d1", site="nowhere")
    assert unknown_site.returncode == 2
    assert "site 'nowhere' does not exist" in unknown_site.stderr
    assert "livinglab sites add nowhere" in unknown_site.stderr

    assert (
        _livinglab(
            "sites", "add", "s1", "--name", "Site", dsn=dsn, broker=broker
        ).returncode
        == 0
    )
    bad_sensor = add("d1", sensor="temperature")
    assert bad_sensor.returncode == 2
    assert "KEY:QUANTITY:UNIT" in bad_sensor.stderr
    bad_id = add("D/1")
    assert bad_id.returncode == 2
    assert "device id 'D/1'" in bad_id.stderr
    assert "Traceback" not in unknown_site.stderr + bad_sensor.stderr + bad_id.stderr

    assert add("d1").returncode == 0
    again = add("d1")
    assert again.returncode == 2
    assert "device 'd1' is already registered" in again.stderr

    # The broker already has a client d2 (made outside the registry): the registry keeps no half.
    broker.add_device("d2")
    clash = add("d2")
    assert clash.returncode == 2
    assert "already has a client named 'd2'" in clash.stderr
    with psycopg.connect(dsn) as conn:
        assert conn.execute(
            "SELECT count(*) FROM devices WHERE id = 'd2'"
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM sensors WHERE device_id = 'd2'"
        ).fetchone() == (0,)


def test_broker_bootstrap_is_idempotent(dsn, broker):
    for _ in range(2):
        result = _livinglab("broker", "bootstrap", dsn=dsn, broker=broker)
        assert result.returncode == 0, result.stderr
    ingest = Session(
        broker,
        username=INGEST_USER,
        password=broker.ingest_password,
        client_id="livinglab.ingest-cli",
    )
    try:
        assert not ingest.connect_code.is_failure
    finally:
        ingest.close()
