"""livinglab wire format, version 1, for MicroPython: encode a telemetry batch.

Copy this file to the board next to main.py. It needs only `struct`, so it runs on MicroPython
(ESP32, Raspberry Pi Pico W) and on CPython, where tests/edge/test_firmware_vectors.py checks its
output byte for byte against broker/vectors/. The layout is described in broker/README.md.

A batch is given as a list of (time_ns, sensor_key, value) tuples. Sensor keys are numbered in the
order they first appear, as the platform's own encoder does, so the output matches the vectors.
"""

import struct

WIRE_VERSION = 1
TOPIC_ROOT = "livinglab/v1"
MAX_READINGS = 200000
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
FLAG_SYNCED = 0x01
FLAG_OFFSET_KNOWN = 0x02
# Header after the 2-byte magic: version, flags, seq, clock offset, n, k, reserved.
_HEADER = "<BBQqIHH"
_KEY_FIRST = "abcdefghijklmnopqrstuvwxyz0123456789"
_KEY_REST = _KEY_FIRST + "_.-"
_DEVICE_REST = _KEY_FIRST + "_-"


def _valid_name(name, rest):
    # MicroPython's `re` is small; the patterns are simple enough to check by hand.
    if not 1 <= len(name) <= 63 or name[0] not in _KEY_FIRST:
        return False
    return all(c in rest for c in name)


def topic(device_id, channel):
    """The topic of a device channel: telemetry, status, config or events."""
    if channel not in ("telemetry", "status", "config", "events"):
        raise ValueError("unknown channel")
    if not _valid_name(device_id, _DEVICE_REST):
        raise ValueError("invalid device id")
    return TOPIC_ROOT + "/" + device_id + "/" + channel


def _columns(seq, readings):
    """Check a batch and split it into keys, times, sensor indices and values."""
    if not 0 <= seq < 1 << 63:
        raise ValueError("seq must be in 0..2^63-1")
    if len(readings) > MAX_READINGS:
        raise ValueError("too many readings in one batch")
    keys = []
    index = {}
    times = []
    sensors = []
    values = []
    for time_ns, key, value in readings:
        if key not in index:
            if not _valid_name(key, _KEY_REST):
                raise ValueError("invalid sensor key: " + key)
            index[key] = len(keys)
            keys.append(key)
        times.append(time_ns)
        sensors.append(index[key])
        values.append(float(value))
    return keys, times, sensors, values


def _flags(synced, offset_ns):
    return (FLAG_SYNCED if synced else 0) | (
        FLAG_OFFSET_KNOWN if offset_ns is not None else 0
    )


def encode_binary(seq, readings, synced=False, offset_ns=None):
    """The binary frame of a batch: header, keys, zero padding to 8, then three columns."""
    keys, times, sensors, values = _columns(seq, readings)
    n = len(times)
    size = 28 + sum(1 + len(k) for k in keys)
    start = size + (-size % 8)  # the columns start at a multiple of 8 bytes
    frame = bytearray(start + 18 * n)  # zero-filled, so the padding is already there
    frame[0:2] = b"LL"
    offset = offset_ns if offset_ns is not None else 0
    struct.pack_into(
        _HEADER,
        frame,
        2,
        WIRE_VERSION,
        _flags(synced, offset_ns),
        seq,
        offset,
        n,
        len(keys),
        0,
    )
    pos = 28
    for key in keys:
        raw = key.encode()
        frame[pos] = len(raw)
        frame[pos + 1 : pos + 1 + len(raw)] = raw
        pos += 1 + len(raw)
    for i in range(n):
        struct.pack_into("<q", frame, start + 8 * i, times[i])
        struct.pack_into("<d", frame, start + 8 * (n + i), values[i])
        struct.pack_into("<H", frame, start + 16 * n + 2 * i, sensors[i])
    return bytes(frame)


def _number(value):
    # v - v is 0.0 only for finite v (inf - inf and nan - nan are nan); JSON has no NaN or inf.
    # CPython's repr is the shortest exact form, as its json module writes; MicroPython's repr of a
    # float may be shorter than the exact value, and single-precision ports only have ~7 digits.
    return repr(value) if value - value == 0.0 else "null"


def encode_json(seq, readings, synced=False, offset_ns=None):
    """The JSON document of a batch, compact and with the fields in the platform's order."""
    keys, times, sensors, values = _columns(seq, readings)
    clock = '{"synced":' + ("true" if synced else "false")
    if offset_ns is not None:
        clock += ',"offset_ns":' + str(offset_ns)
    # Keys match the key pattern, so they never need escaping.
    parts = [
        '{"v":' + str(WIRE_VERSION),
        '"seq":' + str(seq),
        '"clock":' + clock + "}",
        '"sensors":[' + ",".join('"' + k + '"' for k in keys) + "]",
        '"time_ns":[' + ",".join(str(t) for t in times) + "]",
        '"sensor":[' + ",".join(str(s) for s in sensors) + "]",
        '"value":[' + ",".join(_number(v) for v in values) + "]}",
    ]
    return ",".join(parts).encode()
