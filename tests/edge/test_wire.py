"""The wire contract: round trips of both encodings, errors for bad input, and the topic helpers."""

import json
import math
import struct

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from livinglab_edge_agent.wire import (
    DEVICE_ID_PATTERN,
    MAX_PAYLOAD_BYTES,
    MAX_READINGS,
    OFFLINE_STATUS,
    SENSOR_KEY_PATTERN,
    Batch,
    ClockState,
    DesiredConfig,
    Event,
    Status,
    WireError,
    decode_batch,
    encode_binary,
    encode_json,
    parse_topic,
    topic,
)

INT64 = st.integers(-(2**63), 2**63 - 1)
SEQ = st.integers(0, 2**63 - 1)
KEYS = st.from_regex(SENSOR_KEY_PATTERN, fullmatch=True)
DEVICE_IDS = st.from_regex(DEVICE_ID_PATTERN, fullmatch=True)
CHANNELS = st.sampled_from(["telemetry", "status", "config", "events"])
CLOCKS = st.builds(ClockState, synced=st.booleans(), offset_ns=st.none() | INT64)
# Every float64: NaN with any payload and sign, infinities, -0.0, subnormals.
ANY_FLOAT = st.floats(
    width=64, allow_nan=True, allow_infinity=True, allow_subnormal=True
)
FINITE_FLOAT = st.floats(
    width=64, allow_nan=False, allow_infinity=False, allow_subnormal=True
)


@st.composite
def batches(draw, values=ANY_FLOAT, max_readings=40):
    """Any valid batch: 0..max_readings readings over 1..6 distinct keys (none when empty)."""
    n = draw(st.integers(0, max_readings))
    keys = draw(st.lists(KEYS, min_size=0 if n == 0 else 1, max_size=6, unique=True))
    indices = st.integers(0, len(keys) - 1) if keys else st.nothing()
    return Batch(
        seq=draw(SEQ),
        sensors=tuple(keys),
        time_ns=np.array(draw(st.lists(INT64, min_size=n, max_size=n)), dtype=np.int64),
        sensor=np.array(
            draw(st.lists(indices, min_size=n, max_size=n)), dtype=np.uint16
        ),
        value=np.array(
            draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64
        ),
        clock=draw(CLOCKS),
    )


CLOCK = ClockState(synced=True, offset_ns=-7)


def make_batch(n=3, *, seq=5, keys=("t", "rh"), clock=CLOCK):
    """A small valid batch cycling through `keys`, value = 0.5 * i."""
    readings = [
        (1_700_000_000_000_000_000 + i, keys[i % len(keys)], 0.5 * i) for i in range(n)
    ]
    return Batch.from_readings(seq=seq, readings=readings, clock=clock)


def with_nan_for_non_finite(batch):
    """What JSON carries: every non-finite value becomes null, which decodes to math.nan."""
    value = np.array(
        [v if math.isfinite(v) else math.nan for v in batch.value.tolist()],
        dtype=np.float64,
    )
    return Batch(
        seq=batch.seq,
        sensors=batch.sensors,
        time_ns=batch.time_ns,
        sensor=batch.sensor,
        value=value,
        clock=batch.clock,
    )


def decodes_or_wire_error(payload):
    """Decode; a WireError is fine, any other exception fails. A decoded batch must re-encode."""
    try:
        batch = decode_batch(payload)
    except WireError:
        return None
    assert decode_batch(encode_binary(batch)) == batch
    return batch


def document(**changes):
    """The JSON document of make_batch(1), with fields replaced (None removes one)."""
    doc = json.loads(encode_json(make_batch(1)))
    for name, value in changes.items():
        if value is None:
            doc.pop(name)
        else:
            doc[name] = value
    return json.dumps(doc).encode()


# --- round trips -------------------------------------------------------------------------------


@given(batches())
def test_binary_round_trip_is_exact(batch):
    assert decode_batch(encode_binary(batch)) == batch


@given(batches())
@example(make_batch(0))
@example(
    Batch.from_readings(
        seq=2**63 - 1,
        readings=[
            (-(2**63), "a", math.inf),
            (2**63 - 1, "a", -math.inf),
            (0, "b", -0.0),
            (1, "b", 5e-324),
        ],
    )
)
def test_json_round_trip_maps_non_finite_values_to_nan(batch):
    decoded = decode_batch(encode_json(batch))

    assert decoded == with_nan_for_non_finite(batch)


@given(batches(values=FINITE_FLOAT))
def test_json_round_trip_is_exact_for_finite_values(batch):
    assert decode_batch(encode_json(batch)) == batch


@given(batches())
def test_both_encodings_decode_alike(batch):
    from_json = decode_batch(encode_json(batch))
    from_binary = decode_batch(encode_binary(batch))

    assert from_json == with_nan_for_non_finite(from_binary)


@given(batches())
def test_binary_frame_layout(batch):
    frame = encode_binary(batch)
    n, k = len(batch), len(batch.sensors)
    keys_end = 28 + sum(1 + len(key) for key in batch.sensors)
    columns = keys_end + (-keys_end % 8)

    assert frame[:4] == b"LL\x01" + bytes(
        [int(batch.clock.synced) | (2 if batch.clock.offset_ns is not None else 0)]
    )
    assert struct.unpack_from("<QqIHH", frame, 4) == (
        batch.seq,
        batch.clock.offset_ns or 0,
        n,
        k,
        0,
    )
    assert frame[keys_end:columns] == bytes(columns - keys_end)
    assert columns % 8 == 0
    assert len(frame) == columns + 18 * n
    assert np.frombuffer(frame, "<i8", n, columns).tolist() == batch.time_ns.tolist()
    assert (
        np.frombuffer(frame, "<f8", n, columns + 8 * n).tobytes()
        == batch.value.tobytes()
    )
    assert (
        np.frombuffer(frame, "<u2", n, columns + 16 * n).tolist()
        == batch.sensor.tolist()
    )


def test_json_document_is_compact_with_fields_in_order():
    batch = Batch.from_readings(
        seq=3,
        readings=[
            (10, "t", 21.5),
            (20, "rh", math.nan),
            (30, "t", math.inf),
            (40, "t", 2.0),
        ],
        clock=ClockState(synced=True, offset_ns=-5),
    )

    assert encode_json(batch) == (
        b'{"v":1,"seq":3,"clock":{"synced":true,"offset_ns":-5},"sensors":["t","rh"],'
        b'"time_ns":[10,20,30,40],"sensor":[0,1,0,0],"value":[21.5,null,null,2.0]}'
    )


def test_json_clock_offset_is_left_out_when_unknown():
    assert b'"clock":{"synced":false},' in encode_json(make_batch(clock=ClockState()))


def test_json_defaults_and_integer_values():
    payload = b'{"v":1,"seq":0,"sensors":["t"],"time_ns":[1],"sensor":[0],"value":[21]}'

    batch = decode_batch(payload)

    assert batch.clock == ClockState(synced=False, offset_ns=None)
    assert batch.readings() == [(1, "t", 21.0)]
    assert batch.value.dtype == np.float64


def test_json_accepts_python_nan_and_infinity_tokens():
    # Python's json reads these non-standard tokens; firmware should write null instead.
    payload = b'{"v":1,"seq":0,"sensors":["t"],"time_ns":[1,2,3],"sensor":[0,0,0],"value":[NaN,Infinity,-Infinity]}'

    assert decode_batch(payload).value.tolist()[1:] == [math.inf, -math.inf]


def test_binary_decode_ignores_clock_offset_without_its_flag():
    frame = bytearray(encode_binary(make_batch(clock=ClockState(synced=True))))
    struct.pack_into("<q", frame, 12, 123)

    assert decode_batch(bytes(frame)).clock == ClockState(synced=True, offset_ns=None)


def test_from_readings_indexes_keys_in_first_seen_order():
    batch = Batch.from_readings(
        seq=1, readings=[(1, "b", 1.0), (2, "a", 2.0), (3, "b", 3.0)]
    )

    assert batch.sensors == ("b", "a")
    assert batch.sensor.tolist() == [0, 1, 0]
    assert batch.readings() == [(1, "b", 1.0), (2, "a", 2.0), (3, "b", 3.0)]


def test_from_readings_takes_none_as_nan():
    batch = Batch.from_readings(seq=1, readings=[(1, "a", None), (2, "a", -0.0)])

    assert batch.value.dtype == np.float64
    assert math.isnan(batch.value[0])
    assert math.copysign(1.0, batch.value[1]) == -1.0


def test_largest_batch_fits_in_the_payload_limit():
    n = MAX_READINGS
    batch = Batch(
        seq=1,
        sensors=("t",),
        time_ns=np.arange(n, dtype=np.int64),
        sensor=np.zeros(n, dtype=np.uint16),
        value=np.ones(n, dtype=np.float64),
    )

    frame = encode_binary(batch)

    assert len(frame) <= MAX_PAYLOAD_BYTES
    assert decode_batch(frame) == batch


# --- arbitrary and damaged input: WireError and nothing else -----------------------------------

JSON_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def json_documents(draw):
    """Documents near the contract: each field valid, missing or of an arbitrary JSON type."""
    n = draw(st.integers(0, 3))
    fields = {
        "v": st.just(1),
        "seq": SEQ,
        "clock": st.fixed_dictionaries(
            {"synced": st.booleans()}, optional={"offset_ns": INT64}
        ),
        "sensors": st.lists(KEYS, min_size=1, max_size=2),
        "time_ns": st.lists(INT64, min_size=n, max_size=n),
        "sensor": st.lists(st.integers(0, 1), min_size=n, max_size=n),
        "value": st.lists(
            st.none() | st.integers() | st.floats(), min_size=n, max_size=n
        ),
    }
    doc = {}
    for name, valid in fields.items():
        choice = draw(st.sampled_from(["valid", "valid", "missing", "arbitrary"]))
        if choice == "valid":
            doc[name] = draw(valid)
        elif choice == "arbitrary":
            doc[name] = draw(JSON_VALUES)
    return json.dumps(doc).encode()


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_wire_error(payload):
    decodes_or_wire_error(payload)


@given(
    st.sampled_from([b"LL", b"LL\x01", b"LL\x01\x03", b"{"]), st.binary(max_size=300)
)
def test_arbitrary_bytes_after_a_valid_start_raise_only_wire_error(start, rest):
    decodes_or_wire_error(start + rest)


@given(json_documents())
def test_json_documents_of_any_shape_raise_only_wire_error(payload):
    decodes_or_wire_error(payload)


@given(
    batches(max_readings=6), st.sampled_from([encode_binary, encode_json]), st.data()
)
def test_damaged_frames_raise_only_wire_error(batch, encode, data):
    payload = bytearray(encode(batch))
    kind = data.draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
    at = data.draw(st.integers(0, len(payload) - 1))
    if kind == "flip":
        payload[at] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "set":
        payload[at] = data.draw(st.integers(0, 255))
    elif kind == "truncate":
        del payload[at:]
    elif kind == "insert":
        payload[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    else:
        del payload[at : at + data.draw(st.integers(1, 8))]

    decodes_or_wire_error(bytes(payload))


@given(batches(max_readings=6))
def test_every_proper_prefix_of_a_frame_is_rejected(batch):
    frame = encode_binary(batch)
    for end in range(len(frame)):
        with pytest.raises(WireError):
            decode_batch(frame[:end])


# --- explicit errors ---------------------------------------------------------------------------


def patched(frame, offset, fmt, value):
    out = bytearray(frame)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def test_trailing_bytes_are_an_error():
    frame = encode_binary(
        make_batch(2, keys=("t",))
    )  # 28 + 2 + 2 (padding) + 36 = 68 bytes

    with pytest.raises(
        WireError, match=r"^binary frame is 69 bytes; 2 readings and 1 keys need 68$"
    ):
        decode_batch(frame + b"\0")


@pytest.mark.parametrize(
    ("end", "message"),
    [
        (0, r"neither a binary frame \(starts with b'LL'\) nor a JSON object"),
        (2, r"binary frame of 2 bytes is shorter than its 28-byte header"),
        (27, r"binary frame of 27 bytes is shorter than its 28-byte header"),
        (28, r"binary frame ends inside its sensor keys"),
        (29, r"binary frame ends inside its sensor keys"),
        (30, r"binary frame is 30 bytes; 2 readings and 1 keys need 68"),
        (67, r"binary frame is 67 bytes; 2 readings and 1 keys need 68"),
    ],
)
def test_truncated_frame_is_an_error(end, message):
    frame = encode_binary(make_batch(2, keys=("t",)))

    with pytest.raises(WireError, match=message):
        decode_batch(frame[:end])


def test_wrong_version_is_an_error():
    frame = encode_binary(make_batch())

    with pytest.raises(
        WireError, match=r"binary frame version 2 is not supported \(expected 1\)"
    ):
        decode_batch(patched(frame, 2, "<B", 2))
    with pytest.raises(WireError, match=r"JSON field 'v' must be 1, got 2"):
        decode_batch(document(v=2))
    with pytest.raises(WireError, match=r"JSON field 'v' must be 1, got None"):
        decode_batch(document(v=None))


@pytest.mark.parametrize("v", [True, 1.0, "1"])
def test_json_version_must_be_the_integer_1(v):
    with pytest.raises(WireError, match=r"JSON field 'v' must be 1, got"):
        decode_batch(document(v=v))


def test_too_many_readings_is_an_error():
    frame = encode_binary(make_batch(1))
    message = rf"batch has {MAX_READINGS + 1} readings; the limit is {MAX_READINGS}"
    n = MAX_READINGS + 1
    big = Batch(
        seq=1,
        sensors=("t",),
        time_ns=np.zeros(n, dtype=np.int64),
        sensor=np.zeros(n, dtype=np.uint16),
        value=np.zeros(n, dtype=np.float64),
    )

    with pytest.raises(WireError, match=message):
        decode_batch(patched(frame, 20, "<I", n))
    with pytest.raises(WireError, match=message):
        encode_binary(big)
    with pytest.raises(WireError, match=message):
        encode_json(big)
    with pytest.raises(WireError, match=message):
        decode_batch(document(value=[None] * n))


def test_sensor_index_without_key_is_an_error():
    batch = Batch(
        seq=1,
        sensors=("t",),
        time_ns=np.array([1, 2], dtype=np.int64),
        sensor=np.array([0, 1], dtype=np.uint16),
        value=np.array([1.0, 2.0]),
    )
    no_keys = Batch(
        seq=1,
        sensors=(),
        time_ns=np.array([1], dtype=np.int64),
        sensor=np.array([0], dtype=np.uint16),
        value=np.array([1.0]),
    )
    frame = encode_binary(make_batch(1, keys=("t",)))

    with pytest.raises(
        WireError, match=r"sensor index 1 has no key \(batch has 1 keys\)"
    ):
        encode_binary(batch)
    with pytest.raises(
        WireError, match=r"sensor index 0 has no key \(batch has 0 keys\)"
    ):
        encode_json(no_keys)
    with pytest.raises(
        WireError, match=r"sensor index 9 has no key \(batch has 1 keys\)"
    ):
        decode_batch(patched(frame, len(frame) - 2, "<H", 9))
    with pytest.raises(
        WireError, match=r"sensor index 1 has no key \(batch has 1 keys\)"
    ):
        decode_batch(document(sensor=[1]))


@pytest.mark.parametrize(
    "key",
    [
        "",
        "T",
        "Temp",
        "_t",
        "-t",
        ".t",
        "a" * 64,
        "a b",
        "a/b",
        "a+",
        "a#",
        "č",
        "t\n",
        "\nt",
        "t\x00",
    ],
)
def test_bad_sensor_key_is_an_error(key):
    batch = Batch.from_readings(seq=1, readings=[(1, key, 1.0)])

    with pytest.raises(WireError, match=r"invalid sensor key"):
        encode_binary(batch)
    with pytest.raises(WireError, match=r"invalid sensor key"):
        encode_json(batch)
    with pytest.raises(WireError, match=r"invalid sensor key"):
        decode_batch(document(sensors=[key]))


@pytest.mark.parametrize(
    "key", ["a", "0", "a" * 63, "bme280.temperature", "sds011.pm2_5", "a-b_c.d"]
)
def test_good_sensor_keys(key):
    batch = Batch.from_readings(seq=1, readings=[(1, key, 1.0)])

    assert decode_batch(encode_binary(batch)).sensors == (key,)


def test_sensor_key_that_is_not_utf8_is_an_error():
    frame = encode_binary(make_batch(1, keys=("ab",)))

    with pytest.raises(WireError, match=r"sensor key 0 is not UTF-8"):
        decode_batch(frame[:29] + b"\xff" + frame[30:])


def test_uppercase_key_in_a_frame_is_an_error():
    frame = encode_binary(make_batch(1, keys=("ab",)))

    with pytest.raises(WireError, match=r"invalid sensor key 'aB'"):
        decode_batch(frame.replace(b"\x02ab", b"\x02aB"))


def test_seq_outside_int63_is_an_error():
    frame = encode_binary(make_batch())

    with pytest.raises(
        WireError, match=r"seq 9223372036854775808 is outside 0..2\^63-1"
    ):
        decode_batch(patched(frame, 4, "<Q", 2**63))
    for seq in (-1, 2**63):
        with pytest.raises(WireError, match=rf"seq {seq} is outside 0..2\^63-1"):
            encode_binary(make_batch(seq=seq))


def test_clock_offset_outside_int64_is_an_error():
    with pytest.raises(WireError, match=r"clock offset does not fit in int64"):
        encode_binary(make_batch(clock=ClockState(offset_ns=2**63)))
    with pytest.raises(WireError, match=r"clock offset does not fit in int64"):
        decode_batch(document(clock={"synced": True, "offset_ns": -(2**63) - 1}))


def test_columns_of_different_lengths_are_an_error():
    with pytest.raises(
        WireError, match=r"time_ns, sensor and value must have the same length"
    ):
        decode_batch(document(time_ns=[1, 2]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seq": True}, r"field 'seq' must be an integer in 0..2\^63-1"),
        ({"seq": 1.0}, r"field 'seq' must be an integer in 0..2\^63-1"),
        ({"seq": "1"}, r"field 'seq' must be an integer in 0..2\^63-1"),
        ({"seq": -1}, r"field 'seq' must be an integer in 0..2\^63-1"),
        ({"seq": 2**63}, r"field 'seq' must be an integer in 0..2\^63-1"),
        ({"seq": None}, r"field 'seq' must be an integer in 0..2\^63-1"),
        ({"sensors": "t"}, r"field 'sensors' must be a list of strings"),
        ({"sensors": [1]}, r"field 'sensors' must be a list of strings"),
        ({"clock": True}, r"field 'clock' must be an object with a boolean 'synced'"),
        (
            {"clock": {"synced": 1}},
            r"field 'clock' must be an object with a boolean 'synced'",
        ),
        (
            {"clock": {"synced": "yes"}},
            r"field 'clock' must be an object with a boolean 'synced'",
        ),
        (
            {"clock": {"synced": True, "offset_ns": 1.5}},
            r"field 'clock.offset_ns' must be an integer",
        ),
        (
            {"clock": {"synced": True, "offset_ns": True}},
            r"field 'clock.offset_ns' must be an integer",
        ),
        ({"time_ns": [True]}, r"field 'time_ns' must be a list of integers"),
        ({"time_ns": [1.0]}, r"field 'time_ns' must be a list of integers"),
        ({"time_ns": ["1"]}, r"field 'time_ns' must be a list of integers"),
        ({"time_ns": None}, r"field 'time_ns' must be a list of integers"),
        (
            {"time_ns": [2**63]},
            r"field 'time_ns' has a value outside -9223372036854775808..9223372036854775807",
        ),
        ({"sensor": [False]}, r"field 'sensor' must be a list of integers"),
        ({"sensor": [0.0]}, r"field 'sensor' must be a list of integers"),
        ({"sensor": [-1]}, r"field 'sensor' has a value outside 0..65535"),
        ({"sensor": [65536]}, r"field 'sensor' has a value outside 0..65535"),
        (
            {"value": ["21.5"]},
            r"field 'value' must be a list of numbers \(null for a missing value\)",
        ),
        (
            {"value": [True]},
            r"field 'value' must be a list of numbers \(null for a missing value\)",
        ),
        (
            {"value": [[1.0]]},
            r"field 'value' must be a list of numbers \(null for a missing value\)",
        ),
        (
            {"value": {"0": 1.0}},
            r"field 'value' must be a list of numbers \(null for a missing value\)",
        ),
        (
            {"value": None},
            r"field 'value' must be a list of numbers \(null for a missing value\)",
        ),
        ({"value": [10**400]}, r"field 'value' has a number outside the float64 range"),
    ],
)
def test_bad_json_types_are_errors(changes, message):
    with pytest.raises(WireError, match=message):
        decode_batch(document(**changes))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{", r"payload is not valid JSON"),
        (b'{"v":1,}', r"payload is not valid JSON"),
        (b'{"v":1} x', r"payload is not valid JSON"),
        (b'{"v":1,"seq":0,"sensors":["\xff"]}', r"payload is not valid JSON"),
        (b'{"a":' + b"[" * 100_000, r"payload is not valid JSON"),
        (b"[1,2]", r"neither a binary frame"),
        (b" {}", r"neither a binary frame"),
        (b"", r"neither a binary frame"),
    ],
)
def test_malformed_json_is_an_error(payload, message):
    with pytest.raises(WireError, match=message):
        decode_batch(payload)


def test_oversize_payload_is_an_error():
    payload = b"LL" + bytes(MAX_PAYLOAD_BYTES - 2)

    with pytest.raises(
        WireError,
        match=rf"^payload of {MAX_PAYLOAD_BYTES + 1} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit$",
    ):
        decode_batch(payload + b"\0")
    with pytest.raises(
        WireError, match=r"version 0 is not supported"
    ):  # at the limit: decoded, not refused for size
        decode_batch(payload)


# --- topics ------------------------------------------------------------------------------------


@given(DEVICE_IDS, CHANNELS)
def test_topic_round_trips(device_id, channel):
    name = topic(device_id, channel)

    assert name == f"livinglab/v1/{device_id}/{channel}"
    assert parse_topic(name) == (device_id, channel)


@pytest.mark.parametrize("device_id", ["d1", "0", "tp-air-02", "a_b", "a" * 63])
def test_topic_accepts_device_ids(device_id):
    assert topic(device_id, "telemetry") == f"livinglab/v1/{device_id}/telemetry"


@pytest.mark.parametrize(
    "device_id",
    [
        "",
        "D1",
        "dA",
        "+",
        "#",
        "d/1",
        "d+",
        "d#",
        "-d",
        "_d",
        "d.1",
        "a" * 64,
        "d 1",
        "d1\n",
        "ž",
        "$SYS",
    ],
)
def test_topic_rejects_device_ids(device_id):
    with pytest.raises(WireError, match=r"invalid device id"):
        topic(device_id, "status")
    with pytest.raises(WireError):
        parse_topic(f"livinglab/v1/{device_id}/status")


@pytest.mark.parametrize("channel", ["data", "Telemetry", "", "+", "#", "telemetry/x"])
def test_topic_rejects_channels(channel):
    with pytest.raises(WireError, match=r"unknown channel"):
        topic("d1", channel)


@pytest.mark.parametrize(
    "name",
    [
        "livinglab/v1/+/telemetry",
        "livinglab/v1/d1/+",
        "livinglab/v1/#",
        "livinglab/v1/d1/#",
        "livinglab/v1/d1/telemetry/extra",
        "livinglab/v1/d1/telemetry/",
        "/livinglab/v1/d1/telemetry",
        "livinglab/v2/d1/telemetry",
        "Livinglab/v1/d1/telemetry",
        "livinglab/v1/d1/Status",
        "livinglab/v1/d1/data",
        "livinglab/v1//status",
        "livinglab/v1/D1/status",
        "livinglab/v1/d1\n/status",
        "$share/ingest/livinglab/v1/d1/telemetry",
        "livinglab/v1/d1",
        "",
    ],
)
def test_parse_topic_rejects(name):
    with pytest.raises(WireError):
        parse_topic(name)


def test_parse_topic_accepts_each_channel():
    for channel in ("telemetry", "status", "config", "events"):
        assert parse_topic(f"livinglab/v1/tp-air-02/{channel}") == (
            "tp-air-02",
            channel,
        )


# --- status, config and events -----------------------------------------------------------------


def test_offline_status_is_the_minimal_document():
    assert OFFLINE_STATUS == b'{"v":1,"state":"offline"}'
    assert Status.model_validate_json(OFFLINE_STATUS).state == "offline"


def test_status_ignores_unknown_fields_and_checks_state():
    status = Status.model_validate_json(
        b'{"v":1,"state":"online","uptime_s":3.5,"battery_v":3.7}'
    )

    assert (status.state, status.uptime_s) == ("online", 3.5)
    with pytest.raises(ValueError, match="state"):
        Status.model_validate_json(b'{"v":1,"state":"sleeping"}')


def test_desired_config_forbids_unknown_fields_and_checks_limits():
    config = DesiredConfig.model_validate_json(
        b'{"v":1,"revision":3,"batch_size":100,"sensors":{"bme280":{"enabled":false}}}'
    )

    assert (
        config.revision,
        config.batch_size,
        config.sensors["bme280"].interval_s,
    ) == (3, 100, 10.0)
    for bad in (
        b'{"revision":1,"colour":"red"}',
        b'{"revision":-1}',
        b'{"v":2,"revision":1}',
        b'{"revision":1,"batch_size":200001}',
        b'{"revision":1,"sensors":{"s":{"interval_s":0.01}}}',
    ):
        with pytest.raises(ValueError, match="validation error"):
            DesiredConfig.model_validate_json(bad)


def test_event_needs_type_and_time():
    event = Event.model_validate_json(
        b'{"v":1,"type":"config_applied","time_ns":5,"revision":3}'
    )

    assert (event.type, event.revision) == ("config_applied", 3)
    with pytest.raises(ValueError, match="time_ns"):
        Event.model_validate_json(b'{"v":1,"type":"error"}')


def test_clip_cuts_before_a_word_and_keeps_short_texts():
    from livinglab_edge_agent.wire import clip

    rng = np.random.default_rng(7)
    words = ["a", "config", "sensor", "every", "10", "s;", "rejected:", "x" * 30]
    for _ in range(500):
        text = " ".join(rng.choice(words, size=int(rng.integers(1, 60))))
        limit = int(rng.integers(2, 120))
        short = clip(text, limit)
        assert len(short) <= limit
        if len(text) <= limit:
            assert short == text
            continue
        kept = short.removesuffix("…")
        assert short.endswith("…")
        assert text.startswith(kept)
        # Cut at a space, unless the first word alone is longer than the limit.
        assert text[len(kept)] == " " or " " not in text[: limit - 1]
