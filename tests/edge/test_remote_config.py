"""Remote configuration: a retained DesiredConfig from the platform is applied live or rejected."""

from __future__ import annotations

import json
import time

import pytest

from livinglab_edge_agent.remote import Schedule
from tests.edge.helpers import CountingSensor, publish_config, wait_until

SENSORS = [
    ("count", "simulated", 1.0, {}),
    ("noise", "simulated", 5.0, {"kind": "noise", "dropout": 0.0}),
]


def reads_during(sensor, seconds):
    before = len(sensor.reads)
    time.sleep(seconds)
    return len(sensor.reads) - before


def test_config_is_applied_live_and_acknowledged(broker, start_agent, listener, device):
    sensor = CountingSensor("count", per_read=1)
    agent = start_agent(sources=[sensor], sensors=SENSORS, heartbeat_interval_s=30)
    wait_until(lambda: listener.last_status(device.id), what="the first heartbeat")
    assert reads_during(sensor, 1.5) <= 2  # every second

    desired = {
        "v": 1,
        "revision": 7,
        "batch_size": 5,
        "batch_max_age_s": 0.5,
        "heartbeat_interval_s": 2,
        "sensors": {"count": {"interval_s": 0.1}},
    }
    publish_config(broker, device.id, json.dumps(desired).encode())
    wait_until(
        lambda: listener.events(device.id, "config_applied"), what="config_applied"
    )
    (applied,) = listener.events(device.id, "config_applied")
    assert applied["revision"] == 7
    assert "count every 0.1 s" in applied["message"]
    assert agent.config_revision == 7
    settings = agent.settings
    assert (settings.batch_size, settings.batch_max_age_s) == (5, 0.5)
    assert settings.heartbeat_interval_s == 2
    assert settings.sensors == {
        "count": Schedule(enabled=True, interval_s=0.1),
        "noise": Schedule(enabled=True, interval_s=5.0),  # not named: unchanged
    }
    assert reads_during(sensor, 1.0) >= 7  # ten a second now
    wait_until(
        lambda: listener.last_status(device.id).get("config_revision") == 7,
        what="a heartbeat with the new revision",
    )

    # Only the field sent changes: the interval stays 0.1 s while the sensor is switched off.
    publish_config(
        broker, device.id, b'{"v":1,"revision":8,"sensors":{"count":{"enabled":false}}}'
    )
    wait_until(lambda: agent.config_revision == 8, what="revision 8")
    time.sleep(0.2)
    assert reads_during(sensor, 1.0) == 0
    assert agent.settings.sensors["count"] == Schedule(enabled=False, interval_s=0.1)
    assert agent.settings.batch_size == 5


def test_retained_config_is_applied_at_start(broker, start_agent, listener, device):
    publish_config(
        broker, device.id, b'{"revision":3,"sensors":{"noise":{"interval_s":2}}}'
    )
    agent = start_agent(sources=[CountingSensor("count")], sensors=SENSORS)
    wait_until(
        lambda: listener.events(device.id, "config_applied"), what="config_applied"
    )
    assert agent.config_revision == 3
    assert agent.settings.sensors["noise"].interval_s == 2


@pytest.mark.parametrize(
    ("payload", "revision", "expected"),
    [
        (
            b'{"v":1,"revision":3,"batch_size":0}',
            3,
            "batch_size: Input should be greater than or equal to 1",
        ),
        (
            b'{"revision":4,"sensors":{"co2":{"interval_s":1}}}',
            4,
            "unknown sensor 'co2'; this device has 'count', 'noise'",
        ),
        (
            b'{"revision":5,"sensors":{"count":{"interval_s":0.001}}}',
            5,
            "sensors.count.interval_s: Input should be greater than or equal to 0.1",
        ),
        (b'{"revision":6,"colour":"red"}', 6, "colour: unknown key"),
        (b'{"v":2,"revision":6}', 6, "v: Input should be less than or equal to 1"),
        (b'{"batch_size":10}', None, "revision: required, but missing"),
        (b"batch_size = 10", None, "not valid JSON"),
        (b"[1, 2]", None, "the configuration must be a JSON object"),
    ],
)
def test_invalid_config_is_rejected_and_the_old_one_kept(
    broker, start_agent, listener, device, payload, revision, expected
):
    agent = start_agent(sources=[CountingSensor("count")], sensors=SENSORS)
    publish_config(broker, device.id, b'{"revision":1,"batch_size":20}')
    wait_until(lambda: agent.config_revision == 1, what="revision 1")
    before = agent.settings

    publish_config(broker, device.id, payload)
    wait_until(
        lambda: listener.events(device.id, "config_rejected"), what="config_rejected"
    )
    (rejected,) = listener.events(device.id, "config_rejected")
    assert rejected.get("revision") == revision
    assert expected in rejected["message"]
    assert agent.config_revision == 1
    assert agent.settings == before
