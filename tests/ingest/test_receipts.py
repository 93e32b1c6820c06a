"""Delivery receipts on the real broker and the real ingest: after the commit, to the device alone.

The attacks are written as a device would try them: reading another device's receipts (by name
or by wildcard) and forging a receipt, for another device or for itself.
"""

from __future__ import annotations

import time

from livinglab_edge_agent.receipt import Receipt, decode_receipt, encode_receipt
from livinglab_edge_agent.wire import encode_binary, topic
from livinglab_platform.core.dynsec import bootstrap, device_acls
from tests.ingest.helpers import DeviceClient, make_batch, scalar, wait_for

NOT_AUTHORIZED = 0x87
GRANTED_QOS_1 = 1
QUIET_S = 1.5


def receipts_of(device):
    """The receipts the device's client received, decoded."""
    name = topic(device.id, "receipts")
    return [decode_receipt(p) for t, p in list(device.client.received) if t == name]


def covered(receipts):
    return {
        seq
        for r in receipts
        for seq in (*range(r.low, r.high + 1), *r.seqs)
        if r.high - r.low < 100_000
    }


def test_a_receipt_names_the_committed_batches_after_the_commit(
    make_device, start_ingest, ingest_dsn, dsn
):
    device = make_device("d1")
    assert device.client.subscribe(topic("d1", "receipts")).value == GRANTED_QOS_1
    start_ingest()
    for seq in (1, 2, 3, 5):
        device.client.send(seq, encode_binary(make_batch(seq, n=10)))
    device.client.settle()
    wait_for(lambda: {1, 2, 3, 5} <= covered(receipts_of(device)), what="the receipts")
    # Nothing that is not in the ledger, and every named seq is.
    ledger = set(
        scalar(
            ingest_dsn, "SELECT array_agg(seq) FROM deliveries WHERE device_id = 'd1'"
        )
    )
    assert covered(receipts_of(device)) == ledger == {1, 2, 3, 5}

    # Seq 4 fills the gap: the watermark becomes 1..5.
    device.client.send(4, encode_binary(make_batch(4, n=10)))
    device.client.settle()
    wait_for(lambda: Receipt(low=1, high=5) in receipts_of(device), what="1..5")
    # A re-sent batch is a duplicate in the ledger, and is receipted again.
    before = len(receipts_of(device))
    device.client.send("again", encode_binary(make_batch(2, n=10)))
    device.client.settle()
    wait_for(
        lambda: len(receipts_of(device)) > before, what="a receipt for the duplicate"
    )
    assert receipts_of(device)[-1] == Receipt(low=1, high=5)
    assert scalar(dsn, "SELECT count(*) FROM readings") == 50


def test_device_a_cannot_read_the_receipts_of_device_b(make_device, start_ingest):
    a = make_device("dev-a")
    b = make_device("dev-b")
    # The attack: subscribe to b's receipts by name, and to everyone's by wildcard.
    assert a.client.subscribe(topic("dev-b", "receipts")).value == NOT_AUTHORIZED
    assert a.client.subscribe("livinglab/v1/+/receipts").value == NOT_AUTHORIZED
    assert a.client.subscribe("livinglab/v1/#").value == NOT_AUTHORIZED
    assert b.client.subscribe(topic("dev-b", "receipts")).value == GRANTED_QOS_1
    start_ingest()
    b.client.send(1, encode_binary(make_batch(1, n=10)))
    b.client.settle()
    wait_for(lambda: receipts_of(b), what="b's receipt")
    time.sleep(QUIET_S)
    assert a.client.received == []


def test_a_device_cannot_forge_a_receipt(make_device, start_ingest):
    victim = make_device("victim")
    forger = make_device("forger")
    assert victim.client.subscribe(topic("victim", "receipts")).value == GRANTED_QOS_1
    assert forger.client.subscribe(topic("forger", "receipts")).value == GRANTED_QOS_1
    start_ingest()
    forged = encode_receipt(Receipt(low=0, high=2**63 - 1))
    # The attack: a receipt covering every seq, for the victim and for itself.
    for target in ("victim", "forger"):
        code = forger.client.publish_topic(topic(target, "receipts"), forged)
        assert code.value == NOT_AUTHORIZED
    time.sleep(QUIET_S)
    assert victim.client.received == []
    assert forger.client.received == []


def test_bootstrap_gives_devices_registered_before_receipts_their_receipts(broker):
    # A device role as `devices add` made it before receipts: no receipts ACLs.
    old = [a for a in device_acls("old-1") if not a["topic"].endswith("/receipts")]
    with broker.admin() as dynsec:
        dynsec.run(
            {"command": "createRole", "rolename": "device-old-1", "acls": old},
            {
                "command": "createClient",
                "username": "old-1",
                "password": "old-password-1",
                "clientid": "old-1",
                "roles": [{"rolename": "device-old-1"}],
            },
        )
    client = DeviceClient(broker, "old-1", "old-password-1")
    try:
        assert client.subscribe(topic("old-1", "receipts")).value == NOT_AUTHORIZED
    finally:
        client.close()
    for _ in range(2):  # idempotent
        with broker.admin() as dynsec:
            bootstrap(
                dynsec,
                ingest_password=broker.ingest_password,
                platform_password=broker.platform_password,
            )
    client = DeviceClient(broker, "old-1", "old-password-1")
    try:
        assert client.subscribe(topic("old-1", "receipts")).value == GRANTED_QOS_1
        assert (
            client.publish_topic(topic("old-1", "receipts"), b"{}").value
            == NOT_AUTHORIZED
        )
    finally:
        client.close()
