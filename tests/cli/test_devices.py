"""`livinglab devices add|list|rotate|revoke` against the real database and broker."""

from __future__ import annotations

import getpass
import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.broker.test_isolation import Session

CLI_USER = f"cli:{getpass.getuser()}"


@pytest.fixture
def with_broker(livinglab, broker):
    """`livinglab` with the broker's admin in the environment, as `.lab/env` gives it."""
    env = {
        "LIVINGLAB_MQTT_HOST": broker.host,
        "LIVINGLAB_MQTT_PORT": str(broker.port),
        "LIVINGLAB_MQTT_ADMIN_PASSWORD": broker.server.admin_password,
    }
    return lambda *args, code=0: livinglab(*args, code=code, env=env)


def _password(output):
    return re.search(r"password\s+=\s+(\S+)", output).group(1)


def _connects(broker, password):
    session = Session(broker, username="pm-01", password=password)
    try:
        return not session.connect_code.is_failure
    finally:
        session.close()


def test_add_list_rotate_and_revoke(with_broker, dsn, broker):
    with_broker(
        "orgs", "add", "zrak-io", "--name", "Zrak.io d.o.o.", "--kind", "company"
    )
    with_broker("sites", "add", "tp-ljubljana", "--name", "Tehnološki park Ljubljana")
    added = with_broker(
        "devices", "add", "pm-01", "--site", "tp-ljubljana", "--org", "zrak-io",
        "--sensor", "pm2_5:pm2_5:ug/m3", "--sensor", "pm10:pm10:ug/m3",
    )  # fmt: skip
    assert "owned by zrak-io" in added.stdout
    first = _password(added.stdout)

    listed = with_broker("devices", "list").stdout
    # Units as people write them, from the quantity table; never the device's ASCII unit.
    assert "ug/m3" not in listed
    assert re.search(
        r"pm-01 .*tp-ljubljana .*zrak-io .*pm-01/pm10: PM10 particles \(µg/m³\),"
        r" pm-01/pm2_5: PM2.5 particles \(µg/m³\) .*○ never",
        listed,
    ), listed
    with psycopg.connect(dsn) as conn:
        # A heartbeat and two of three batches, as the ingest service would record them.
        conn.execute(
            "INSERT INTO device_status (device_id, online, last_seen, outbox_depth, clock_synced,"
            " clock_offset_ns) VALUES ('pm-01', true, %s, 1234, true, 1500000)",
            (datetime.now(UTC) - timedelta(seconds=30),),
        )
        conn.execute(
            "INSERT INTO deliveries (device_id, seq, readings, received_at)"
            " VALUES ('pm-01', 1, 10, now()), ('pm-01', 3, 10, now())"
        )
        conn.commit()
    listed = with_broker("devices", "list").stdout
    assert "1 device(s), 1 online" in listed
    assert re.search(
        r"● online .*3\d s ago .*1,234 .*synced .*\+1\.5 ms .*66\.7%", listed
    ), listed

    rotated = with_broker("devices", "rotate", "pm-01")
    second = _password(rotated.stdout)
    assert second != first
    assert not _connects(broker, first)
    assert _connects(broker, second)

    with_broker("devices", "revoke", "pm-01", "--reason", "stolen from the roof")
    assert not _connects(broker, second)
    assert "revoked" in with_broker("devices", "list").stdout
    again = with_broker("devices", "rotate", "pm-01", code=2)
    assert "device 'pm-01' is revoked; register a new device instead" in again.stderr

    with psycopg.connect(dsn) as conn:
        owner = conn.execute(
            "SELECT organisation_id FROM devices WHERE id = 'pm-01'"
        ).fetchone()
        trail = conn.execute(
            "SELECT actor_label, action, reason FROM audit_log WHERE object_type = 'device' ORDER BY id"
        ).fetchall()
    assert owner == ("zrak-io",)
    assert trail == [
        (CLI_USER, "register", None),
        (CLI_USER, "rotate", None),
        (CLI_USER, "revoke", "stolen from the roof"),
    ]


def test_unknown_device_and_unknown_owner(with_broker):
    with_broker("sites", "add", "s1", "--name", "Site")
    unknown = with_broker("devices", "revoke", "ghost", code=2)
    assert unknown.stderr == "error: device 'ghost' not found\n"
    no_owner = with_broker(
        "devices",
        "add",
        "d1",
        "--site",
        "s1",
        "--org",
        "nobody",
        "--sensor",
        "t:t:degC",
        code=2,
    )
    assert "organisation 'nobody' does not exist" in no_owner.stderr
