"""The agent against a real broker: batches, heartbeat, sensor errors, outages and refusals."""

from __future__ import annotations

import time

import pytest

from livinglab_edge_agent.errors import SensorError
from livinglab_edge_agent.outbox import Outbox
from livinglab_edge_agent.wire import Status, decode_batch, topic
from tests.edge.helpers import (
    SYNCED,
    CountingSensor,
    Listener,
    dynsec,
    wait_until,
)

COUNTING = [("count", "simulated", 0.1, {})]
STATUS_FIELDS = set(Status.model_fields) - {"clock_offset_ns", "config_revision"}


def stop_and_collect(agent, listener, device, sensor):
    """Stop the agent (it drains), wait for every reading; return the outbox counters."""
    agent.stop()
    stats = agent.outbox.stats()
    wait_until(
        lambda: listener.count(device.id) >= len(sensor.produced),
        what=f"{len(sensor.produced)} readings at the listener",
    )
    return stats


def assert_exactly_once(listener, device, sensor, stats):
    """After dedupe by seq: every produced reading once, in order, seqs 1..n, repeats identical."""
    assert listener.mismatched == []
    assert listener.readings(device.id) == sensor.produced
    seqs = listener.seqs(device.id)
    assert seqs == list(range(1, len(seqs) + 1))
    assert stats.sampled == stats.acked == len(sensor.produced)
    assert stats.depth == 0


def test_publishes_batches_and_retained_heartbeat(
    broker, start_agent, listener, device
):
    sensor = CountingSensor("count", per_read=7)
    agent = start_agent(
        sources=[sensor], sensors=COUNTING, batch_size=50, heartbeat_interval_s=1
    )
    wait_until(lambda: listener.count(device.id) >= 300, what="300 readings")
    wait_until(
        lambda: len(listener.channel(device.id, "status")) >= 2, what="heartbeats"
    )

    late = Listener(broker, filters=(topic(device.id, "status"),))
    try:
        wait_until(lambda: late.documents.get(device.id), what="the retained status")
        (channel, retained, is_retained) = late.documents[device.id][0]
    finally:
        late.close()
    assert (channel, is_retained) == ("status", True)
    assert retained["state"] == "online"
    assert set(retained) >= STATUS_FIELDS
    assert retained["agent_version"]
    assert retained["clock_synced"] is True
    assert retained["clock_offset_ns"] == SYNCED.offset_ns
    assert retained["readings_sampled"] >= retained["readings_acked"] > 0

    stats = stop_and_collect(agent, listener, device, sensor)
    assert_exactly_once(listener, device, sensor, stats)
    assert listener.copies.total() == len(
        listener.seqs(device.id)
    )  # no outage, no repeats
    batch = decode_batch(listener.batches[(device.id, 1)])
    assert len(batch) <= 50
    assert batch.clock == SYNCED
    assert set(batch.sensors) == {"count_a", "count_b"}
    wait_until(
        lambda: listener.last_status(device.id)["state"] == "offline",
        what="the final status",
    )
    final = listener.last_status(device.id)
    assert final["readings_acked"] == final["readings_sampled"] == stats.sampled
    assert final["outbox_depth"] == 0
    assert sensor.closed


def test_partial_batch_is_sealed_after_batch_max_age(start_agent, listener, device):
    sensor = CountingSensor("count", per_read=3)
    started = time.monotonic()
    start_agent(
        sources=[sensor], sensors=COUNTING, batch_size=1000, batch_max_age_s=0.3
    )
    wait_until(lambda: len(listener.seqs(device.id)) >= 3, what="three batches")
    elapsed = time.monotonic() - started
    sizes = [len(decode_batch(p)) for p in listener.batches.values()]
    assert all(0 < n < 1000 for n in sizes)
    # Each batch within its age limit (plus a tick), not at the uplink loop's 5 s safety net: a
    # reading that starts a new partial batch wakes the loop, which slept since its last seal.
    assert elapsed < 4.0, f"three batches of at most 0.3 s age took {elapsed:.1f} s"


def test_uplink_loop_wakes_for_its_duties_only(start_agent, listener, device):
    # Heartbeats every second, batches every 100 readings (every few seconds): the loop has a
    # heartbeat to send each second and nothing else. A heartbeat's PUBACK leaves nothing to do,
    # and the loop does not poll in between: each wake-up costs as much CPU as several readings.
    sensor = CountingSensor("count", per_read=3)
    agent = start_agent(
        sources=[sensor],
        sensors=COUNTING,
        heartbeat_interval_s=1,
        batch_size=100,
        batch_max_age_s=60,
    )
    wait_until(
        lambda: len(listener.channel(device.id, "status")) >= 1, what="a heartbeat"
    )
    ticks = []
    tick = agent._tick

    def counting_tick():
        ticks.append(time.monotonic())
        tick()

    agent._tick = counting_tick
    time.sleep(3.0)
    # 3 heartbeats and at most one or two full batches (30 readings a second); polling every
    # 0.5 s and waking at each PUBACK made 10 or more.
    assert len(ticks) <= 6, f"{len(ticks)} wake-ups in 3 s"
    assert len(listener.channel(device.id, "status")) >= 3


def test_failing_sensor_is_counted_reported_once_and_others_go_on(
    start_agent, listener, device
):
    good = CountingSensor("good", keys=("good_value",), per_read=1)
    bad = CountingSensor("bad", keys=("bad_value",), per_read=1)
    bad.error = SensorError(
        "BME280 'bad' at 0x76: I2C error: [Errno 121] Remote I/O error"
    )
    crashing = CountingSensor("crashing", keys=("crash_value",), per_read=1)
    crashing.error = ZeroDivisionError("driver bug")
    agent = start_agent(
        sources=[good, bad, crashing],
        sensors=[(name, "simulated", 0.1, {}) for name in ("good", "bad", "crashing")],
    )
    # An unexpected exception pauses that sensor's loop for a second; a SensorError does not.
    wait_until(lambda: len(bad.reads) >= 10 and len(crashing.reads) >= 2, what="reads")
    wait_until(
        lambda: len(listener.events(device.id, "error")) >= 2, what="error events"
    )
    time.sleep(0.3)
    errors = listener.events(device.id, "error")
    assert len(errors) == 2  # once a minute per sensor, however often it fails
    messages = sorted(e["message"] for e in errors)
    assert "sensor 'bad'" in messages[0]
    assert "Remote I/O error" in messages[0]
    assert "sensor 'crashing'" in messages[1]
    assert "driver bug" in messages[1]
    assert agent.sampler.errors["bad"] >= 10
    assert agent.sampler.errors["good"] == 0
    before = listener.count(device.id)
    wait_until(lambda: listener.count(device.id) > before + 3, what="good readings")

    bad.error = None
    wait_until(lambda: agent.sampler.sampled["bad"] > 0, what="the sensor to recover")


@pytest.mark.slow
def test_broker_restart_mid_stream_delivers_each_reading_once(
    broker, start_agent, listener, device
):
    sensor = CountingSensor("count", per_read=20)
    agent = start_agent(sources=[sensor], sensors=COUNTING, batch_size=50)
    wait_until(lambda: listener.count(device.id) >= 400, what="400 readings")

    broker.restart()
    produced = len(sensor.produced)
    wait_until(lambda: agent.uplink.connections >= 2, what="the agent to reconnect")
    wait_until(
        lambda: listener.count(device.id) >= produced + 400,
        what="readings after the restart",
    )

    stats = stop_and_collect(agent, listener, device, sensor)
    assert_exactly_once(listener, device, sensor, stats)


@pytest.mark.slow
def test_backlog_after_an_outage_drains_completely(
    broker, start_agent, listener, device, tmp_path
):
    backlog = [
        (1_700_000_000_000_000_000 + i, "backlog", float(i)) for i in range(200_000)
    ]
    with Outbox.open(tmp_path / "outbox.db") as outbox:
        outbox.add(backlog)
    broker.server.stop()
    sensor = CountingSensor("count", per_read=10)
    agent = start_agent(sources=[sensor], sensors=COUNTING, batch_size=500)
    # Waits on the outbox, not on the sensor: a reading is produced a moment before the outbox
    # commits it, so a check of the depth right after the sensor's count can come up short.
    wait_until(
        lambda: agent.outbox.depth >= 200_100,
        what="sampling while offline, into the outbox",
    )
    assert not agent.uplink.connected

    broker.server.start()
    wait_until(
        lambda: agent.outbox.pending_batches == 0 and agent.outbox.depth < 1000,
        what="the backlog to drain",
    )
    stats = stop_and_collect(agent, listener, device, sensor)
    assert listener.mismatched == []
    received = listener.readings(device.id)
    assert received[: len(backlog)] == backlog
    assert received[len(backlog) :] == sensor.produced
    seqs = listener.seqs(device.id)
    assert seqs == list(range(1, len(seqs) + 1))
    assert stats.sampled == stats.acked == len(backlog) + len(sensor.produced)


@pytest.mark.slow
def test_outbox_over_capacity_reports_purged_readings(
    broker, start_agent, listener, device
):
    broker.server.stop()
    sensor = CountingSensor("count", per_read=50)
    agent = start_agent(sources=[sensor], sensors=COUNTING, capacity=200)
    wait_until(lambda: len(sensor.produced) >= 600, what="sampling past the capacity")
    assert agent.outbox.depth <= 200

    broker.server.start()
    wait_until(
        lambda: listener.events(device.id, "outbox_purged"), what="outbox_purged"
    )
    agent.stop()
    stats = agent.outbox.stats()
    assert stats.dropped >= 400
    assert stats.sampled == stats.acked + stats.dropped == len(sensor.produced)
    wait_until(
        lambda: (
            sum(e["count"] for e in listener.events(device.id, "outbox_purged"))
            == stats.dropped
        ),
        what="every purge reported",
    )
    wait_until(
        lambda: listener.last_status(device.id)["state"] == "offline",
        what="the final status",
    )
    # The oldest readings were purged; a batch purged while in flight may still have arrived.
    received = listener.readings(device.id)
    skipped = len(sensor.produced) - len(received)
    assert skipped <= stats.dropped
    assert received == sensor.produced[skipped:]
    assert listener.last_status(device.id)["outbox_dropped"] == stats.dropped


@pytest.mark.slow
def test_refused_publish_keeps_batches_until_allowed_again(
    broker, start_agent, listener, device
):
    sensor = CountingSensor("count", per_read=10)
    agent = start_agent(sources=[sensor], sensors=COUNTING, batch_size=20)
    wait_until(lambda: listener.count(device.id) >= 100, what="100 readings")
    acl = {
        "rolename": f"device-{device.id}",
        "acltype": "publishClientSend",
        "topic": topic(device.id, "telemetry"),
    }
    dynsec(broker, "removeRoleACL", **acl)
    wait_until(lambda: agent.uplink.batches_refused >= 1, what="a refused batch")
    wait_until(lambda: listener.events(device.id, "error"), what="an error event")
    message = listener.events(device.id, "error")[0]["message"]
    assert "Not authorized (135)" in message
    assert "stay in the outbox" in message
    wait_until(lambda: agent.outbox.pending_batches >= 5, what="batches kept")
    received = listener.count(device.id)
    time.sleep(1.0)
    assert listener.count(device.id) == received  # refused batches do not arrive

    dynsec(broker, "addRoleACL", **acl, allow=True)
    stats = stop_and_collect(agent, listener, device, sensor)
    assert_exactly_once(listener, device, sensor, stats)


@pytest.mark.slow
def test_disabled_client_keeps_batches_until_enabled(
    broker, start_agent, listener, device
):
    sensor = CountingSensor("count", per_read=10)
    agent = start_agent(sources=[sensor], sensors=COUNTING, batch_size=20)
    wait_until(lambda: listener.count(device.id) >= 100, what="100 readings")

    dynsec(broker, "disableClient", username=device.id)
    wait_until(lambda: not agent.uplink.connected, what="the broker to drop the agent")
    wait_until(lambda: agent.outbox.pending_batches >= 5, what="batches kept")
    received = listener.count(device.id)
    time.sleep(1.0)
    assert listener.count(device.id) == received

    dynsec(broker, "enableClient", username=device.id)
    wait_until(lambda: agent.uplink.connected, what="the agent to reconnect")
    stats = stop_and_collect(agent, listener, device, sensor)
    assert_exactly_once(listener, device, sensor, stats)
