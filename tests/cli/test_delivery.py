"""`livinglab devices show|config` and `livinglab quarantine list|show` on the real database and
broker, and `devices add` without `--org` refused."""

from __future__ import annotations

import json
import queue
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
import pytest

from livinglab_edge_agent.wire import topic

NOW = datetime.now(UTC)


@pytest.fixture
def with_broker(livinglab, broker):
    """`livinglab` with the broker's admin and platform passwords, as `.lab/env` gives them."""
    env = {
        "LIVINGLAB_MQTT_HOST": broker.host,
        "LIVINGLAB_MQTT_PORT": str(broker.port),
        "LIVINGLAB_MQTT_ADMIN_PASSWORD": broker.server.admin_password,
        "LIVINGLAB_MQTT_PLATFORM_PASSWORD": broker.platform_password,
    }
    return lambda *args, code=0: livinglab(*args, code=code, env=env)


@pytest.fixture
def device(with_broker, dsn):
    with_broker("orgs", "add", "zrak-io", "--name", "Zrak.io", "--kind", "company")
    with_broker("sites", "add", "s1", "--name", "Site")
    with_broker(
        "devices", "add", "pm-01", "--site", "s1", "--org", "zrak-io",
        "--sensor", "pm2_5:pm2_5:ug/m3",
    )  # fmt: skip
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(
            "INSERT INTO deliveries (device_id, seq, readings, received_at) VALUES ('pm-01', %s, 5, %s)",
            [(1, NOW - timedelta(minutes=10)), (4, NOW - timedelta(minutes=5))],
        )
        conn.execute(
            "INSERT INTO quarantine (received_at, topic, device_id, reason, payload, claimed_seq)"
            " VALUES (%s, 'livinglab/v1/pm-01/telemetry', 'pm-01',"
            " 'undecodable telemetry batch: binary frame is 65 bytes', 'LL', 2)",
            (NOW - timedelta(minutes=7),),
        )
        conn.execute(
            "INSERT INTO device_status (device_id, online, last_seen, outbox_depth)"
            " VALUES ('pm-01', true, now() - interval '10 minutes', 321)"
        )
    return "pm-01"


def test_add_without_an_owner_is_refused(with_broker):
    with_broker("sites", "add", "s1", "--name", "Site")
    refused = with_broker(
        "devices", "add", "d1", "--site", "s1", "--sensor", "t:t:degC", code=2
    )
    assert "--org" in refused.output


def test_show_and_quarantine(with_broker, device):
    shown = with_broker("devices", "show", device).stdout
    assert "offline (silent or said offline); silent after 90 s" in shown
    assert "321 readings" in shown
    assert "2 of 4 batches (50.0%), 1 gap(s)" in shown
    entry = with_broker("quarantine", "list", "--device", device).stdout
    [row] = [line.split("│") for line in entry.splitlines() if "pm-01" in line]
    entry_id = row[1].strip()
    # No seq of its own (it could not be decoded); the seq its header claimed.
    assert [cell.strip() for cell in row[4:6]] == ["-", "2"]
    scripted = json.loads(
        with_broker("quarantine", "list", "--device", device, "--format", "json").stdout
    )
    assert [(e["id"], e["seq"], e["claimed_seq"]) for e in scripted] == [
        (int(entry_id), None, 2)
    ]
    assert "seq 2-3 (2 missing)" in shown
    assert f"quarantined: {entry_id}" in shown
    one = with_broker("quarantine", "show", entry_id).stdout
    assert "claimed seq  2" in one
    assert "2 bytes, starting 4c4c" in one
    later = (NOW + timedelta(minutes=1)).isoformat()
    assert "0 quarantined" in with_broker("quarantine", "list", "--since", later).stdout


def test_config_is_published_retained(with_broker, device, broker):
    refused = with_broker("devices", "config", device, "--interval", "pm=0.01", code=2)
    assert "sensors.pm.interval_s" in refused.output
    set_ = with_broker(
        "devices", "config", device, "--interval", "pm=5", "--disable", "noise",
        "--heartbeat", "10",
    )  # fmt: skip
    assert "revision 1 pending" in set_.stdout
    shown = with_broker("devices", "config", device, "--show").stdout
    assert "revision 1 pending" in shown
    assert _retained(broker, device) == {
        "v": 1,
        "revision": 1,
        "heartbeat_interval_s": 10.0,
        "sensors": {"pm": {"interval_s": 5.0}, "noise": {"enabled": False}},
    }


def _retained(broker, device_id):
    """The retained config as the device receives it when it subscribes."""
    messages: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id="livinglab.test-reader",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set("livinglab.ingest", broker.ingest_password)
    client.on_message = lambda _c, _u, m: messages.put(m.payload)
    client.on_connect = lambda c, *_: c.subscribe(topic(device_id, "config"), qos=1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        return json.loads(messages.get(timeout=10))
    finally:
        client.disconnect()
        client.loop_stop()
