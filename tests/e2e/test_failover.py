"""The real agent and the real ingest service through broker restarts and an ingest crash.

The agent samples a deterministic simulated sensor, so every stored reading can be checked
against what the sensor produced at that time: nothing lost, nothing twice, nothing altered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import psycopg
import pytest

from livinglab_edge_agent.outbox import Outbox
from livinglab_edge_agent.sensors import SensorSpec, create_sensor
from tests.ingest.helpers import ingest_env, register_device

DEVICE = "e2e-air-01"
KEYS = ("air_temperature", "relative_humidity", "air_pressure")
SENSOR = SensorSpec(
    name="air",
    driver="simulated",
    interval_s=0.1,
    options={"kind": "air", "dropout": 0.0},
)


def _agent_config(tmp_path, broker, password):
    (tmp_path / "password").write_text(password)
    config = tmp_path / "agent.toml"
    config.write_text(
        f"""device_id = "{DEVICE}"
heartbeat_interval_s = 2

[mqtt]
host = "{broker.host}"
port = {broker.port}
tls = false
password_file = "{tmp_path / "password"}"

[outbox]
path = "{tmp_path / "outbox.db"}"

[uplink]
batch_size = 30
batch_max_age_s = 0.3

[[sensors]]
name = "{SENSOR.name}"
driver = "simulated"
interval_s = {SENSOR.interval_s}
options = {{ kind = "air", dropout = 0.0 }}
"""
    )
    return config


def _spawn(args, *, env=None, log):
    return subprocess.Popen(
        [sys.executable, *args],
        env=os.environ | (env or {}),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stored(dsn):
    with psycopg.connect(dsn) as conn:
        (count,) = conn.execute(
            "SELECT coalesce(sum(readings), 0) FROM deliveries"
        ).fetchone()
    return count


@pytest.mark.slow
def test_agent_to_database_through_broker_restarts_and_an_ingest_crash(
    tmp_path, dsn, ingest_dsn, broker
):
    sensor_ids = register_device(dsn, DEVICE, KEYS)
    config = _agent_config(tmp_path, broker, broker.add_device(DEVICE))
    env = ingest_env(ingest_dsn, broker)
    log = (tmp_path / "processes.log").open("ab")
    ingest = _spawn(["-m", "livinglab_platform.ingest"], env=env, log=log)
    agent = _spawn(
        ["-m", "livinglab_edge_agent", "run", "--config", str(config)], log=log
    )
    try:
        time.sleep(3)
        broker.restart()  # clean: the broker saves its persistence file
        time.sleep(3)
        ingest.send_signal(
            signal.SIGKILL
        )  # a crash: messages in flight stay unacknowledged
        ingest.wait()
        time.sleep(2)
        ingest = _spawn(["-m", "livinglab_platform.ingest"], env=env, log=log)
        time.sleep(2)
        broker.restart()
        time.sleep(3)
        agent.send_signal(signal.SIGTERM)  # stops sampling and drains its outbox
        assert agent.wait(timeout=30) == 0
        with Outbox.open(tmp_path / "outbox.db") as outbox:
            stats = outbox.stats()
        assert stats.depth == 0, "the agent drains its outbox before it stops"
        assert stats.dropped == 0
        assert stats.acked == stats.sampled > 300

        deadline = time.monotonic() + 30
        while _stored(dsn) < stats.acked and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for process in (agent, ingest):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        log.close()

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT (extract(epoch FROM time) * 1e6)::int8, sensor_id, value FROM readings"
        ).fetchall()
        (quarantined,) = conn.execute("SELECT count(*) FROM quarantine").fetchone()
    assert quarantined == 0
    assert len(rows) == stats.acked, "every reading the broker acknowledged is stored"
    assert len({(t, s) for t, s, _ in rows}) == len(rows), "nothing is stored twice"

    # Content: each stored value is what the sensor gave at that time (the simulated sensor is a
    # pure function of time; times are stored in µs, its values rounded to 0.01).
    sensor = create_sensor(SENSOR)
    key_of = {sensor_id: key for key, sensor_id in sensor_ids.items()}
    expected = {}
    for time_us in sorted({t for t, _, _ in rows}):
        for reading in sensor.read(time_us * 1000):
            expected[(time_us, reading.key)] = reading.value
    stored = np.array([v for _, _, v in rows])
    wanted = np.array([expected[(t, key_of[s])] for t, s, _ in rows])
    assert np.allclose(stored, wanted, atol=0.011)
