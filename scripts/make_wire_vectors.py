"""Write the wire test vectors to broker/vectors/: `python scripts/make_wire_vectors.py`.

Each valid case is a batch given as plain data (seq, clock, readings). For it the script writes the
JSON encoding (`NAME.json`), the binary frame (`NAME.bin`) and the readings in plain form
(`NAME.expected.json`, written from the case data, not from a decoder). Invalid payloads go to
`invalid/`, with the substring of the error the platform answers them with in `invalid/index.json`.

The output is deterministic; tests/edge/test_wire_vectors.py checks that the committed files equal
what this script writes now, so a change to the contract cannot slip in unnoticed.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from livinglab_edge_agent.wire import Batch, ClockState, encode_binary, encode_json

__all__ = ["CASES", "VECTORS_DIR", "build_vectors", "main"]

VECTORS_DIR = Path(__file__).resolve().parent.parent / "broker" / "vectors"
# 2026-01-01T00:00:00Z in ns since the Unix epoch.
T0_NS = 1_767_225_600_000_000_000
# 2000-01-01T00:00:00Z: where a MicroPython or RTC clock that was never set starts counting.
EPOCH_2000_NS = 946_684_800_000_000_000
S = 1_000_000_000


@dataclass(frozen=True)
class Case:
    """One valid batch, as plain data."""

    name: str
    description: str
    seq: int
    synced: bool
    offset_ns: int | None
    readings: tuple[tuple[int, str, float], ...]

    @property
    def batch(self) -> Batch:
        clock = ClockState(synced=self.synced, offset_ns=self.offset_ns)
        return Batch.from_readings(
            seq=self.seq, readings=list(self.readings), clock=clock
        )


CASES = (
    Case(
        name="empty",
        description="no readings and no sensor keys; valid, though a device has no reason to send it",
        seq=0,
        synced=False,
        offset_ns=None,
        readings=(),
    ),
    Case(
        name="one_reading",
        description="one reading of one sensor, clock synced, offset unknown (flags 0x01)",
        seq=1,
        synced=True,
        offset_ns=None,
        readings=((T0_NS, "air_temperature", 21.5),),
    ),
    Case(
        name="several_sensors",
        description="three sensors, readings interleaved, clock synced with offset +1.5 ms (flags 0x03)",
        seq=42,
        synced=True,
        offset_ns=1_500_000,
        readings=(
            (T0_NS, "bme280.temperature", 21.5),
            (T0_NS, "bme280.humidity", 48.25),
            (T0_NS + 250_000_000, "sds011.pm2_5", 7.3),
            (T0_NS + 10 * S, "bme280.temperature", 21.625),
            (T0_NS + 10 * S, "bme280.humidity", 48.0),
            (T0_NS + 10 * S + 250_000_000, "sds011.pm2_5", 12.0),
        ),
    ),
    Case(
        name="unsynced_clock",
        description="clock never synchronised (flags 0x00): times count from 2000-01-01, where the device's RTC started",
        seq=7,
        synced=False,
        offset_ns=None,
        readings=(
            (EPOCH_2000_NS + 12 * S, "soil_moisture", 0.31),
            (EPOCH_2000_NS + 72 * S, "soil_moisture", 0.3125),
        ),
    ),
    Case(
        name="nan_value",
        description="a missing value: NaN in the binary frame (bits 0x7ff8000000000000), null in JSON; offset -0.25 ms",
        seq=8,
        synced=True,
        offset_ns=-250_000,
        readings=(
            (T0_NS, "co2", 415.0),
            (T0_NS + 60 * S, "co2", math.nan),
            (T0_NS + 120 * S, "co2", 417.5),
        ),
    ),
    Case(
        name="negative_time",
        description="edge values: a time before 1970 (negative), the largest seq, -0.0, the smallest subnormal, the largest float64; offset known, not synced (flags 0x02)",
        seq=2**63 - 1,
        synced=False,
        offset_ns=0,
        readings=(
            (-S, "edge.case", -0.0),
            (0, "edge.case", 5e-324),
            (1, "edge.case", 1.7976931348623157e308),
        ),
    ),
)


def _frame(case_name: str) -> bytes:
    return encode_binary(next(c for c in CASES if c.name == case_name).batch)


def _patch(frame: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(frame)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _invalid() -> list[tuple[str, bytes, str, str]]:
    """(file name, payload, expected error substring, description) of each invalid payload."""
    one = _frame(
        "one_reading"
    )  # 28-byte header, key of 1+15 bytes, 4 bytes padding, 18 bytes
    several = _frame("several_sensors")
    no_padding = one[:44] + one[48:]
    big_endian = (
        b"LL"
        + struct.pack(">BBQqIHH", 1, 1, 1, 0, 1, 1, 0)
        + one[28:48]
        + struct.pack(">q", T0_NS)
        + struct.pack(">d", 21.5)
        + struct.pack(">H", 0)
    )
    document = json.loads(
        encode_json(next(c for c in CASES if c.name == "one_reading").batch)
    )
    return [
        (
            "trailing_byte.bin",
            one + b"\0",
            "binary frame is 67 bytes; 1 readings and 1 keys need 66",
            "a valid frame followed by one extra byte",
        ),
        (
            "truncated.bin",
            one[:-1],
            "binary frame is 65 bytes; 1 readings and 1 keys need 66",
            "a valid frame missing its last byte",
        ),
        (
            "short_header.bin",
            one[:20],
            "binary frame of 20 bytes is shorter than its 28-byte header",
            "the first 20 bytes of a frame",
        ),
        (
            "ends_in_keys.bin",
            several[:40],
            "binary frame ends inside its sensor keys",
            "a frame cut off inside its list of sensor keys",
        ),
        (
            "no_padding.bin",
            no_padding,
            "binary frame is 62 bytes; 1 readings and 1 keys need 66",
            "the zero padding after the keys left out: the columns must start at a multiple of 8",
        ),
        (
            "big_endian.bin",
            big_endian,
            "batch has 16777216 readings; the limit is 200000",
            "one_reading written big-endian: n = 1 reads as 0x01000000",
        ),
        (
            "wrong_version.bin",
            _patch(one, 2, "<B", 2),
            "binary frame version 2 is not supported (expected 1)",
            "version byte 2",
        ),
        (
            "too_many_readings.bin",
            _patch(one, 20, "<I", 200_001),
            "batch has 200001 readings; the limit is 200000",
            "n = 200001 in the header",
        ),
        (
            "seq_too_large.bin",
            _patch(one, 4, "<Q", 2**63),
            "seq 9223372036854775808 is outside 0..2^63-1",
            "seq 2^63: seq is a uint64 field but must stay below 2^63",
        ),
        (
            "sensor_index_without_key.bin",
            _patch(one, len(one) - 2, "<H", 1),
            "sensor index 1 has no key (batch has 1 keys)",
            "a reading pointing at sensor index 1 in a batch with one key",
        ),
        (
            "uppercase_key.bin",
            one.replace(b"air_temperature", b"Air_temperature"),
            "invalid sensor key 'Air_temperature'",
            "a sensor key with an upper-case letter",
        ),
        (
            "value_as_string.json",
            json.dumps({**document, "value": ["21.5"]}, separators=(",", ":")).encode(),
            "field 'value' must be a list of numbers (null for a missing value)",
            "a value written as a JSON string",
        ),
        (
            "seq_as_bool.json",
            json.dumps({**document, "seq": True}, separators=(",", ":")).encode(),
            "field 'seq' must be an integer in 0..2^63-1",
            "seq written as true",
        ),
        (
            "time_as_float.json",
            json.dumps(
                {**document, "time_ns": [1.7672256e18]}, separators=(",", ":")
            ).encode(),
            "field 'time_ns' must be a list of integers",
            "a time written as a JSON float (1.7672256e+18) instead of an integer",
        ),
    ]


def _plain_value(value: float) -> str | None:
    return None if math.isnan(value) else repr(value)


def _pretty(document: object) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode()


def _expected_text(case: Case) -> bytes:
    """The plain form of a case, one reading a line so that a diff shows which one changed."""

    def dump(value: object) -> str:
        return json.dumps(value, separators=(", ", ": "))

    clock = {"synced": case.synced, "offset_ns": case.offset_ns}
    sensors = list(dict.fromkeys(key for _, key, _ in case.readings))
    rows = [dump([t, key, _plain_value(v)]) for t, key, v in case.readings]
    readings = "[\n    " + ",\n    ".join(rows) + "\n  ]" if rows else "[]"
    return (
        f'{{\n  "seq": {case.seq},\n  "clock": {dump(clock)},\n  "sensors": {dump(sensors)},\n'
        f'  "readings": {readings}\n}}\n'
    ).encode()


def build_vectors() -> dict[str, bytes]:
    """Every file of broker/vectors/, by path relative to it, with its exact contents."""
    files: dict[str, bytes] = {}
    index = []
    for case in CASES:
        batch = case.batch
        files[f"{case.name}.json"] = encode_json(batch)
        files[f"{case.name}.bin"] = encode_binary(batch)
        files[f"{case.name}.expected.json"] = _expected_text(case)
        index.append({"name": case.name, "description": case.description})
    files["index.json"] = _pretty(index)
    invalid_index = []
    for name, payload, error, description in _invalid():
        files[f"invalid/{name}"] = payload
        invalid_index.append({"file": name, "error": error, "description": description})
    files["invalid/index.json"] = _pretty(invalid_index)
    return files


def main() -> int:
    files = build_vectors()
    for relative, content in files.items():
        path = VECTORS_DIR / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    stale = [
        p
        for p in VECTORS_DIR.rglob("*")
        if p.is_file() and p.relative_to(VECTORS_DIR).as_posix() not in files
    ]
    for path in stale:
        path.unlink()
    sys.stdout.write(
        f"wrote {len(files)} files to {VECTORS_DIR}, removed {len(stale)} stale\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
