"""Receipts end to end: the real agent, broker, ingest and database; nothing lost, nothing twice.

With receipts a batch leaves the agent's outbox only when the platform has committed it, so a
broker killed after its PUBACK (before its autosave) loses nothing: the agent sends the batch
again, same seq and bytes, and the ledger drops whatever arrived twice.
"""

from __future__ import annotations

import gc

import psycopg
import pytest

from livinglab_platform.ingest import IngestService
from tests.edge.helpers import CountingSensor, Listener, wait_until
from tests.ingest.helpers import ingest_settings, register_device

COUNTING = [("count", "simulated", 0.1, {})]
KEYS = ("count_a", "count_b")


@pytest.fixture
def start_ingest(ingest_dsn, broker):
    services = []

    def start():
        service = IngestService(ingest_settings(ingest_dsn, broker))
        service.start()
        services.append(service)
        return service

    yield start
    for service in services:
        service.stop(timeout_s=10)
    gc.collect()  # see tests/ingest/conftest.py


@pytest.fixture
def registered(dsn, device):
    register_device(dsn, device.id, KEYS)
    return device


def ledger(dsn, device_id):
    """(seqs in the ledger, readings stored, distinct readings stored) of a device."""
    with psycopg.connect(dsn) as conn:
        seqs = conn.execute(
            "SELECT coalesce(array_agg(seq ORDER BY seq), '{}') FROM deliveries"
            " WHERE device_id = %s",
            (device_id,),
        ).fetchone()[0]
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (time, sensor_id, value)) FROM readings"
        ).fetchone()
    return seqs, total, distinct


def assert_stored_exactly_once(dsn, agent, sensor, device):
    stats = agent.outbox.stats()
    seqs, total, distinct = ledger(dsn, device.id)
    assert stats.depth == 0
    assert stats.sampled == stats.acked == len(sensor.produced)
    assert seqs == list(range(1, stats.next_seq))
    assert total == distinct == len(sensor.produced)


def test_receipts_empty_the_outbox_once_committed(
    dsn, registered, start_ingest, start_agent
):
    start_ingest()
    sensor = CountingSensor("count", per_read=5)
    agent = start_agent(
        sources=[sensor], sensors=COUNTING, batch_size=20, receipts=True
    )
    wait_until(lambda: agent.uplink.batches_confirmed >= 10, what="10 receipts")
    assert agent.uplink.receipts
    agent.stop()
    assert_stored_exactly_once(dsn, agent, sensor, registered)


def test_without_a_receipt_the_same_bytes_are_sent_again_and_stored_once(
    dsn, broker, registered, start_ingest, start_agent
):
    # A listener stands where the ingest should be: the broker acknowledges, nobody commits.
    listener = Listener(broker)
    try:
        sensor = CountingSensor("count", per_read=5)
        agent = start_agent(
            sources=[sensor],
            sensors=COUNTING,
            batch_size=20,
            receipts=True,
            receipt_timeout_s=0.3,
            drain_timeout_s=30.0,
        )
        wait_until(
            lambda: max(listener.copies.values(), default=0) >= 3,
            what="a batch sent three times",
        )
        assert listener.mismatched == []  # same seq, same bytes
        assert agent.uplink.batches_confirmed == 0
        assert agent.outbox.pending_batches >= 1
        start_ingest()
        wait_until(lambda: agent.uplink.batches_confirmed >= 1, what="a receipt")
        agent.stop()
    finally:
        listener.close()
    assert listener.mismatched == []
    assert_stored_exactly_once(dsn, agent, sensor, registered)


def test_a_broker_killed_after_its_puback_loses_nothing(
    dsn, broker, registered, start_ingest, start_agent
):
    # The ingest's persistent session exists, so the broker queues batches for it while it is
    # down: acknowledged to the agent, held only in the broker's memory.
    start_ingest().stop(timeout_s=10)
    sensor = CountingSensor("count", per_read=5)
    agent = start_agent(
        sources=[sensor],
        sensors=COUNTING,
        batch_size=20,
        receipts=True,
        receipt_timeout_s=1.0,
        drain_timeout_s=30.0,
    )
    wait_until(lambda: agent.uplink.batches_acked >= 10, what="10 PUBACKs")
    assert agent.uplink.batches_confirmed == 0
    broker.server.kill()  # SIGKILL, well before the 30 s autosave
    broker.server.start()  # same port, same data directory
    start_ingest()
    wait_until(
        lambda: agent.uplink.batches_confirmed >= 10,
        timeout_s=60,
        what="receipts after the crash",
    )
    agent.stop()
    assert_stored_exactly_once(dsn, agent, sensor, registered)


def test_a_device_without_receipts_keeps_puback_semantics(
    dsn, registered, start_ingest, start_agent
):
    start_ingest()
    sensor = CountingSensor("count", per_read=5)
    agent = start_agent(
        sources=[sensor], sensors=COUNTING, batch_size=20, receipts=False
    )
    wait_until(lambda: agent.uplink.batches_acked >= 10, what="10 PUBACKs")
    assert not agent.uplink.receipts
    agent.stop()
    assert agent.uplink.batches_confirmed == 0
    assert_stored_exactly_once(dsn, agent, sensor, registered)


def test_a_device_role_without_receipts_falls_back_to_puback(
    dsn, broker, registered, start_ingest, start_agent
):
    with broker.admin() as admin:
        admin.run(
            {
                "command": "removeRoleACL",
                "rolename": f"device-{registered.id}",
                "acltype": "subscribeLiteral",
                "topic": f"livinglab/v1/{registered.id}/receipts",
            }
        )
    start_ingest()
    sensor = CountingSensor("count", per_read=5)
    agent = start_agent(
        sources=[sensor], sensors=COUNTING, batch_size=20, receipts=True
    )
    wait_until(lambda: not agent.uplink.receipts, what="the fallback to PUBACK")
    wait_until(lambda: agent.uplink.batches_acked >= 10, what="10 PUBACKs")
    agent.stop()
    assert_stored_exactly_once(dsn, agent, sensor, registered)
