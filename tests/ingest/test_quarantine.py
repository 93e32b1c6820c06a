"""Malformed and hostile payloads go to the quarantine with a readable reason; the service goes on."""

import json
import struct
import time

import numpy as np
import psycopg

from livinglab_edge_agent.wire import (
    MAX_PAYLOAD_BYTES,
    Batch,
    encode_binary,
    encode_json,
)
from livinglab_platform.ingest.decode import Rejected, Telemetry, decode
from tests.ingest.helpers import (
    T0_NS,
    assert_same_rows,
    expected_rows,
    make_batch,
    scalar,
    stored_rows,
    wait_for,
)

TOPIC = "livinglab/v1/d1/telemetry"


def json_batch(**fields):
    document = {
        "v": 1,
        "seq": 1,
        "clock": {"synced": True},
        "sensors": ["t"],
        "time_ns": [T0_NS],
        "sensor": [0],
    }
    document.update(fields)
    return json.dumps(document).encode()


def binary_frame(*, seq, keys, time_ns, value, sensor, version=1):
    """A binary frame packed by hand, without the encoder's checks (wire.py documents the layout)."""
    head = struct.pack(
        "<2sBBQqIHH", b"LL", version, 1, seq, 0, len(time_ns), len(keys), 0
    )
    head += b"".join(bytes([len(k)]) + k.encode() for k in keys)
    head += b"\0" * (-len(head) % 8)
    columns = [
        np.asarray(time_ns, "<i8"),
        np.asarray(value, "<f8"),
        np.asarray(sensor, "<u2"),
    ]
    return head + b"".join(c.tobytes() for c in columns)


def hostile_payloads():
    """(name, payload, expected reason fragment) of payloads that must be quarantined whole."""
    good = encode_binary(make_batch(50, n=10))
    return [
        ("garbage", b"\x00\x01garbage\xff", "neither a binary frame"),
        ("empty", b"", "neither a binary frame"),
        ("truncated", good[:-5], "binary frame is"),
        ("short header", good[:10], "shorter than its"),
        ("binary version", good[:2] + b"\x09" + good[3:], "version 9 is not supported"),
        ("json version", json_batch(v=2, value=[1.0]), "'v' must be 1"),
        ("json strings", json_batch(value=["hot"]), "list of numbers"),
        (
            "json huge int value",
            json_batch(value=[10**400]),
            "undecodable telemetry batch",
        ),
        ("json huge time", json_batch(time_ns=[10**30], value=[1.0]), "outside"),
        ("json not an object", b"[1, 2, 3]", "nor a JSON object"),
        ("json broken", b'{"v": 1, "seq": ', "not valid JSON"),
        (
            "json deep",
            b"{" + b'"a":[' * 100_000 + b"]" * 100_000 + b"}",
            "undecodable telemetry batch",
        ),
        (
            "index without key",
            binary_frame(
                seq=5, keys=["t"], time_ns=[T0_NS] * 2, value=[1.0, 2.0], sensor=[0, 1]
            ),
            "sensor index 1 has no key",
        ),
        ("oversized", b"{" + b" " * (MAX_PAYLOAD_BYTES + 10) + b"}", "exceeds the"),
    ]


def test_decode_names_the_problem():
    for name, payload, fragment in hostile_payloads():
        decoded = decode(TOPIC, payload)
        assert isinstance(decoded, Rejected), name
        assert fragment in decoded.reason, (name, decoded.reason)
        assert len(decoded.reason) < 400
    assert isinstance(decode(TOPIC, encode_binary(make_batch(1))), Telemetry)
    assert "not livinglab/v1" in decode("other/d1/telemetry", b"").reason
    assert decode("livinglab/v1/d1/config", b"{}").reason.endswith(
        "is not a telemetry, status or events topic"
    )
    assert (
        "undecodable status"
        in decode("livinglab/v1/d1/status", b'{"state": "asleep"}').reason
    )


def test_hostile_payloads_are_quarantined_and_the_service_keeps_running(
    dsn, make_device, start_ingest
):
    device = make_device("d1", ("t", "rh"))
    stranger = make_device("stranger", in_database=False)
    service = start_ingest()
    payloads = hostile_payloads()
    for _, payload, _ in payloads:
        assert device.client.publish("telemetry", payload, timeout=30) == 0
    assert stranger.client.publish("telemetry", encode_binary(make_batch(1, n=5))) == 0
    assert stranger.client.publish("status", b'{"state": "online"}') == 0

    # Row-level problems: the good readings are stored, one quarantine row per batch.
    now_ns = time.time_ns()
    mixed = Batch.from_readings(
        seq=100,
        readings=[
            (T0_NS, "t", 1.0),
            (T0_NS + 1, "t", float("nan")),
            (T0_NS + 2, "rh", float("inf")),
            (T0_NS + 3, "rh", float("-inf")),
            (T0_NS + 4, "foo", 2.0),
            (T0_NS + 5, "bar", 3.0),
            (T0_NS + 6, "foo", 4.0),
            (now_ns + 86_400 * 10**9, "t", 5.0),  # a day ahead
            (946_684_799 * 10**9, "rh", 6.0),  # one second before 2000
            (T0_NS + 7, "rh", 7.0),
        ],
    )
    assert device.client.publish("telemetry", encode_binary(mixed)) == 0
    nan_json = json_batch(
        seq=101, time_ns=[T0_NS, T0_NS + 1, T0_NS + 2], sensor=[0, 0, 0]
    ).replace(b'"sensor"', b'"value": [NaN, 1e999, 8.5], "sensor"')
    assert device.client.publish("telemetry", nan_json) == 0
    good = make_batch(102, n=20)
    assert device.client.publish("telemetry", encode_binary(good)) == 0

    expected_quarantine = len(payloads) + 2 + 2
    wait_for(
        lambda: (
            service.quarantined == expected_quarantine and service.stored_batches == 3
        ),
        what="all handled",
    )

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT topic, device_id, seq, reason, readings, payload FROM quarantine ORDER BY id"
        ).fetchall()
        ledger = conn.execute(
            "SELECT seq, readings, quarantined FROM deliveries ORDER BY seq"
        ).fetchall()
    reasons = [r[3] for r in rows]
    for name, payload, fragment in payloads:
        matching = [r for r in rows if bytes(r[5]) == payload]
        assert len(matching) == 1, name
        assert fragment in matching[0][3], (name, matching[0][3])
        assert matching[0][1] == "d1"
    assert "device 'stranger' is not registered in the platform" in reasons
    assert "status of unregistered device 'stranger'" in reasons

    (mixed_row,) = [r for r in rows if r[2] == 100]
    assert mixed_row[3] == (
        "3 non-finite values; 3 readings with unknown sensor keys 'foo', 'bar'; "
        "1 reading timed before 2000-01-01; 1 reading timed more than 300 s in the future"
    )
    assert mixed_row[4] == 8
    assert bytes(mixed_row[5]) == encode_binary(mixed)
    (nan_row,) = [r for r in rows if r[2] == 101]
    assert nan_row[3] == "2 non-finite values"
    assert nan_row[4] == 2
    assert ledger == [(100, 2, 8), (101, 1, 2), (102, 20, 0)]

    sensor_ids = device.sensor_ids
    stored = stored_rows(dsn)
    want = expected_rows(
        [
            Batch.from_readings(
                seq=0,
                readings=[
                    (T0_NS, "t", 1.0),
                    (T0_NS + 7, "rh", 7.0),
                    (T0_NS + 2, "t", 8.5),
                ],
            ),
            good,
        ],
        sensor_ids,
    )
    assert_same_rows(stored, want)
    assert (
        service.quarantined_readings == 8 + 2 + 5
    )  # row-level bad readings, and the stranger's batch


def test_database_refusal_quarantines_only_the_refused_message(
    dsn, make_device, start_ingest
):
    """A value PostgreSQL refuses (bigint overflow) sends the group message by message."""
    device = make_device("d1")
    service = start_ingest(batch_max_wait_s=0.3, writers=1)
    event = {"v": 1, "type": "error", "time_ns": T0_NS, "count": 2**70}
    device.client.send("bad", json.dumps(event).encode(), channel="events")
    batch = make_batch(1, n=30)
    device.client.send(1, encode_binary(batch))
    device.client.send(
        "ok",
        json.dumps({"v": 1, "type": "config_applied", "time_ns": T0_NS}).encode(),
        channel="events",
    )
    device.client.settle()
    wait_for(
        lambda: (
            service.quarantined == 1
            and service.stored_batches == 1
            and service.events == 1
        ),
        what="handled",
    )
    reason = scalar(dsn, "SELECT reason FROM quarantine")
    assert reason.startswith("the database refused it: NumericValueOutOfRange")
    assert scalar(dsn, "SELECT type FROM device_events") == "config_applied"
    assert_same_rows(stored_rows(dsn), expected_rows([batch], device.sensor_ids))


def test_empty_sensor_list_and_json_nulls(dsn, make_device, start_ingest):
    device = make_device("d1")
    service = start_ingest()
    batch = Batch(
        seq=9, sensors=("t",), time_ns=np.array([T0_NS, T0_NS + 1000], dtype=np.int64),
        sensor=np.zeros(2, dtype=np.uint16), value=np.array([np.nan, 3.5]),
    )  # fmt: skip
    assert (
        device.client.publish("telemetry", encode_json(batch)) == 0
    )  # NaN travels as null
    wait_for(
        lambda: service.stored_batches == 1 and service.quarantined == 1, what="handled"
    )
    assert scalar(dsn, "SELECT reason FROM quarantine") == "1 non-finite value"
    assert scalar(dsn, "SELECT value FROM readings") == 3.5
