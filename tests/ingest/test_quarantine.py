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
from livinglab_platform.ingest import decode as decode_module
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
    # PostgreSQL text cannot hold NUL, which JSON can: decoding accepts it, the database not.
    event = {"v": 1, "type": "error", "time_ns": T0_NS, "message": "a\u0000b"}
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
    assert reason.startswith("the database refused it: DataError")
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


# Each field of a status and an event past its bound, with the words its reason must hold.
OVERSIZE = [
    ("status", {"agent_version": "v" * 65}, "field 'agent_version' has 65 characters; the limit is 64"),
    ("status", {"time_ns": 2**63}, "field 'time_ns' must be at most 9223372036854775807"),
    ("status", {"clock_offset_ns": -(2**63) - 1}, "field 'clock_offset_ns' must be at least -9223372036854775808"),
    ("status", {"outbox_depth": 2**63}, "field 'outbox_depth' must be at most"),
    ("status", {"outbox_dropped": -1}, "field 'outbox_dropped' must be at least 0"),
    ("status", {"readings_sampled": 10**30}, "field 'readings_sampled' must be at most"),
    ("status", {"readings_acked": 2**64}, "field 'readings_acked' must be at most"),
    ("status", {"config_revision": 2**63}, "field 'config_revision' must be at most"),
    ("status", {"uptime_s": 1e300}, "field 'uptime_s' must be at most"),
    ("status", {"state": "x" * 100_000}, "field 'state' must be 'online' or 'offline'"),
    ("status", {"v": 10**20}, "field 'v' must be at most 1"),
    ("events", {"type": "x" * 100_000}, "field 'type' has 100000 characters; the limit is 32"),
    ("events", {"message": "word " * 10_000}, "field 'message' has 50000 characters; the limit is 1000"),
    ("events", {"time_ns": -(2**63) - 1}, "field 'time_ns' must be at least"),
    ("events", {"revision": 2**63}, "field 'revision' must be at most"),
    ("events", {"count": 2**70}, "field 'count' must be at most"),
    ("events", {"type": "Config Applied"}, "field 'type' must be 1-32 of a-z 0-9 _"),
]  # fmt: skip
BASE = {
    "status": {"v": 1, "state": "online"},
    "events": {"v": 1, "type": "error", "time_ns": T0_NS},
}


def test_every_status_and_event_field_is_bounded():
    for channel, fields, words in OVERSIZE:
        payload = json.dumps(BASE[channel] | fields).encode()
        decoded = decode(f"livinglab/v1/d1/{channel}", payload)
        assert isinstance(decoded, Rejected), (fields, decoded)
        assert words in decoded.reason, (fields, decoded.reason)
        assert "For further" not in decoded.reason
        assert len(decoded.reason) <= 300


def test_quarantine_reasons_are_not_cut_inside_a_word(monkeypatch):
    # pydantic's messages were cut at 200 characters: "... For furthe...".
    hostile = json.dumps(
        {"v": "one", "state": "x" * 100, "time_ns": "soon", "uptime_s": "long"}
        | {"agent_version": "v" * 5000, "outbox_depth": -1, "readings_acked": 2**64}
    ).encode()
    # All seven problems named, so the reason runs past its limit.
    monkeypatch.setattr(decode_module, "_REASON_MAX_PROBLEMS", 10)
    reason = decode("livinglab/v1/d1/status", hostile).reason
    monkeypatch.setattr(decode_module, "_REASON_MAX_CHARS", 10**6)
    full = decode("livinglab/v1/d1/status", hostile).reason
    assert len(reason) <= 300 < len(full)
    assert reason.endswith("…")
    kept = reason.removesuffix("…")
    assert full.startswith(kept)
    assert full[len(kept)] == " "  # the next character starts a new word
    assert "field 'v'" in reason


def test_an_oversized_event_goes_to_the_quarantine_not_device_events(
    dsn, make_device, start_ingest
):
    device = make_device("d1")
    service = start_ingest()
    # The finding: a 100 kB `type` in a device event was stored.
    event = {"v": 1, "type": "x" * 100_000, "time_ns": T0_NS}
    assert device.client.publish("events", json.dumps(event).encode()) == 0
    status = {"v": 1, "state": "online", "agent_version": "v" * 100_000}
    assert device.client.publish("status", json.dumps(status).encode()) == 0
    wait_for(lambda: service.quarantined == 2, what="2 messages quarantined")
    assert scalar(dsn, "SELECT count(*) FROM device_events") == 0
    assert scalar(dsn, "SELECT count(*) FROM device_status") == 0
    with psycopg.connect(dsn) as conn:
        reasons = sorted(
            r for (r,) in conn.execute("SELECT reason FROM quarantine").fetchall()
        )
    assert reasons == [
        "undecodable events message: field 'type' has 100000 characters; the limit is 32",
        "undecodable status message: field 'agent_version' has 100000 characters; the limit is 64",
    ]
