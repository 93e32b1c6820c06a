"""Crash, restart and stop of ingest, broker and database mid-stream: nothing lost, nothing twice."""

import threading
import time

import psycopg
import pytest

from livinglab_edge_agent.wire import encode_binary
from tests.ingest.helpers import (
    T0_NS,
    IngestProcess,
    assert_same_rows,
    expected_rows,
    ingest_env,
    make_batch,
    scalar,
    stored_rows,
    wait_for,
)

pytestmark = pytest.mark.slow


def make_stream(batches=150, readings=400):
    """Batches with distinct times: batch seq starts seq * 1000 s after T0."""
    return [
        make_batch(seq, n=readings, start_ns=T0_NS + seq * 10**12, step_ns=10**9)
        for seq in range(1, batches + 1)
    ]


def publish_in_background(device, batches, *, pause_s=0.01):
    """Send the batches from a thread, a little apart, as a device streaming; return the thread."""

    def run():
        for batch in batches:
            device.client.send(batch.seq, encode_binary(batch))
            time.sleep(pause_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def delivered(dsn):
    try:
        return scalar(dsn, "SELECT count(*) FROM deliveries")
    except psycopg.OperationalError:
        return 0


def assert_all_stored_once(dsn, batches, device):
    assert scalar(dsn, "SELECT count(*) FROM deliveries") == len(batches)
    assert scalar(dsn, "SELECT sum(readings) FROM deliveries") == sum(
        len(b) for b in batches
    )
    assert_same_rows(stored_rows(dsn), expected_rows(batches, device.sensor_ids))
    assert scalar(dsn, "SELECT count(*) FROM quarantine") == 0


def test_ingest_killed_mid_stream_and_restarted(
    dsn, ingest_dsn, broker, make_device, tmp_path
):
    device = make_device("d1")
    batches = make_stream()
    env = ingest_env(ingest_dsn, broker, batch_max_rows=2_000)
    ingest = IngestProcess(env, tmp_path / "ingest.log")
    ingest.wait_subscribed()
    publisher = publish_in_background(device, batches)

    wait_for(lambda: delivered(dsn) >= 30, what="30 batches stored")
    ingest.kill()
    killed_at = delivered(dsn)
    time.sleep(0.3)  # the stream goes on while the ingest is down
    ingest = IngestProcess(env, tmp_path / "ingest.log")
    ingest.wait_subscribed(times=2)
    publisher.join(30)
    device.client.settle()
    wait_for(lambda: delivered(dsn) == len(batches), what="every batch stored")
    assert ingest.terminate() == 0

    assert killed_at < len(batches)
    assert_all_stored_once(dsn, batches, device)


def test_broker_restart_mid_stream(dsn, broker, make_device, start_ingest, caplog):
    device = make_device("d1")
    batches = make_stream()
    service = start_ingest(batch_max_rows=2_000)
    publisher = publish_in_background(device, batches)

    wait_for(lambda: service.stored_batches >= 30, what="30 batches stored")
    broker.restart()
    assert service.stored_batches < len(batches)
    publisher.join(30)
    device.client.settle()
    wait_for(
        lambda: service.stored_batches == len(batches),
        timeout=30,
        what="every batch stored",
    )

    assert_all_stored_once(dsn, batches, device)
    assert service.stored_readings == sum(len(b) for b in batches)
    assert "disconnected from the broker" in caplog.text


def test_sigterm_commits_what_was_received_and_a_restart_stores_nothing_twice(
    dsn, ingest_dsn, broker, make_device, tmp_path
):
    device = make_device("d1")
    # Many small batches, one per group, and a small receive window, so the stop lands
    # mid-stream: with 300 batches a fast run had stored them all before SIGTERM arrived.
    batches = make_stream(batches=3000, readings=20)
    env = ingest_env(
        ingest_dsn,
        broker,
        batch_max_rows=1,
        writers=1,
        mqtt_receive_maximum=10,
        stats_interval_s=3600,
    )
    ingest = IngestProcess(env, tmp_path / "ingest.log")
    ingest.wait_subscribed()
    for batch in batches:
        device.client.send(batch.seq, encode_binary(batch))
    device.client.settle()  # everything is at the broker, queued for the ingest session

    wait_for(lambda: delivered(dsn) >= 20, interval=0.005, what="20 batches stored")
    assert ingest.terminate() == 0
    first_run = delivered(dsn)
    assert 20 <= first_run < len(batches)
    # The last stats row is written at the stop and counts every batch committed.
    assert scalar(dsn, "SELECT count(*) FROM ingest_stats") == 1
    assert scalar(dsn, "SELECT sum(batches) FROM ingest_stats") == first_run
    assert "ingest stopped" in ingest.log

    ingest = IngestProcess(env, tmp_path / "ingest.log")
    ingest.wait_subscribed(times=2)
    wait_for(
        lambda: delivered(dsn) == len(batches), what="the rest stored after the restart"
    )
    assert ingest.terminate() == 0

    # Everything committed in the first run had been acknowledged: nothing came back twice.
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT batches, duplicates FROM ingest_stats ORDER BY time"
        ).fetchall()
    assert rows == [(first_run, 0), (len(batches) - first_run, 0)]
    assert_all_stored_once(dsn, batches, device)


def test_configuration_errors_exit_non_zero_with_a_message(
    ingest_dsn, broker, tmp_path
):
    ingest = IngestProcess(
        ingest_env(ingest_dsn, broker) | {"LIVINGLAB_MQTT_PASSWORD": "wrong"},
        tmp_path / "ingest.log",
    )
    assert ingest.process.wait(30) != 0
    ingest.kill()
    assert "livinglab ingest: the broker refused the ingest login" in ingest.log
