"""The MQTT contract, version 1: topics and the two encodings of a telemetry batch.

This module is the single definition of what travels between a device and the platform; the
ingest service imports it, and `broker/README.md` describes the same bytes for firmware writers.

A telemetry batch is columnar: `time_ns` (int64, ns since the Unix epoch, UTC), `sensor` (uint16
index into `sensors`, the batch's list of sensor keys) and `value` (float64). It travels either as
JSON (small devices, humans) or as a binary frame that decodes with `numpy.frombuffer`:

    offset  size  field
    0       2     magic b"LL"
    2       1     version (1)
    3       1     flags: bit 0 clock synced, bit 1 clock offset known
    4       8     seq, uint64
    12      8     clock offset in ns, int64 (0 unless flag bit 1)
    20      4     n, number of readings, uint32
    24      2     k, number of sensor keys, uint16
    26      2     reserved, 0
    28      ...   k sensor keys, each a uint8 length then that many UTF-8 bytes
    ...     0-7   zero padding to a multiple of 8 bytes from the frame start
    ...     8n    time_ns, int64[n]
    ...     8n    value, float64[n]
    ...     2n    sensor, uint16[n]

All integers and floats are little-endian. A frame is exactly this long: trailing bytes are an error.
"""

from __future__ import annotations

import json
import math
import re
import struct
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field

# numpy is imported where arrays are made, not here: the edge agent encodes its frames with the
# standard library (`encode_readings`) and never loads numpy, about 20 MiB of a Pi's memory.
if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEVICE_ID_PATTERN",
    "DEVICE_ID_REGEX",
    "DEVICE_ID_RULE",
    "EVENT_TYPE_REGEX",
    "EVENT_TYPE_RULE",
    "MAX_AGENT_VERSION_CHARS",
    "MAX_EVENT_MESSAGE_CHARS",
    "MAX_PAYLOAD_BYTES",
    "OFFLINE_STATUS",
    "SENSOR_KEY_PATTERN",
    "SENSOR_KEY_REGEX",
    "SENSOR_KEY_RULE",
    "STATUS_STATE_REGEX",
    "TOPIC_ROOT",
    "WIRE_VERSION",
    "Batch",
    "ClockState",
    "DesiredConfig",
    "Event",
    "SensorSchedule",
    "Status",
    "WireError",
    "clip",
    "decode_batch",
    "encode_binary",
    "encode_columns",
    "encode_json",
    "encode_readings",
    "parse_topic",
    "topic",
]

WIRE_VERSION = 1
TOPIC_ROOT = "livinglab/v1"
CHANNELS = ("telemetry", "status", "config", "events", "receipts")
# A device id is one MQTT topic level and a Mosquitto client id: no wildcards, no slashes. Site
# and organisation ids follow the same rule. Each rule is written once, here, in three forms: the
# regular expression for pydantic and FastAPI (whose Rust engine has no `\Z`; its `$` is the end
# of the text), the compiled pattern for Python, and the sentence people read when they break it.
DEVICE_ID_REGEX = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DEVICE_ID_RULE = "1-63 of a-z 0-9 _ -, starting with a letter or digit"
SENSOR_KEY_REGEX = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
SENSOR_KEY_RULE = "1-63 of a-z 0-9 _ . -, starting with a letter or digit"
# `\Z`, not `$`: in Python `$` also matches before a final newline, so "d1\n" would pass.
DEVICE_ID_PATTERN = re.compile(DEVICE_ID_REGEX.removesuffix("$") + r"\Z")
SENSOR_KEY_PATTERN = re.compile(SENSOR_KEY_REGEX.removesuffix("$") + r"\Z")
# Mosquitto accepts 256 MB by default; a batch above this is refused as hostile or broken.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
MAX_READINGS = 200_000

MAGIC = b"LL"
_HEADER = struct.Struct("<2sBBQqIHH")
FLAG_SYNCED = 0x01
FLAG_OFFSET_KNOWN = 0x02


class WireError(ValueError):
    """Raised when a payload or topic does not follow the contract; the message says why."""


@dataclass(frozen=True)
class ClockState:
    """Whether the device clock was synchronised when the batch was made, and its offset if known."""

    synced: bool = False
    offset_ns: int | None = None


@dataclass(frozen=True, eq=False)
class Batch:
    """One telemetry message: a device's numbered batch of readings in columns."""

    seq: int
    sensors: tuple[str, ...]
    time_ns: npt.NDArray[np.int64]
    sensor: npt.NDArray[np.uint16]
    value: npt.NDArray[np.float64]
    clock: ClockState = field(default_factory=ClockState)

    def __len__(self) -> int:
        return len(self.time_ns)

    def __eq__(self, other: object) -> bool:
        import numpy as np

        if not isinstance(other, Batch):
            return NotImplemented
        return (
            self.seq == other.seq
            and self.sensors == other.sensors
            and self.clock == other.clock
            and np.array_equal(self.time_ns, other.time_ns)
            and np.array_equal(self.sensor, other.sensor)
            # Bit-for-bit, so NaN equals NaN and -0.0 differs from 0.0.
            and self.value.tobytes() == other.value.tobytes()
        )

    @classmethod
    def from_readings(
        cls,
        *,
        seq: int,
        readings: Sequence[tuple[int, str, float | None]],
        clock: ClockState | None = None,
    ) -> Self:
        """Build a batch from (time_ns, sensor_key, value) tuples, keys indexed in first-seen order.

        A value of None (how the outbox's SQLite returns a stored NaN) becomes NaN.
        """
        import numpy as np

        keys: dict[str, int] = {}
        indices = [keys.setdefault(key, len(keys)) for _, key, _ in readings]
        return cls(
            seq=seq,
            sensors=tuple(keys),
            time_ns=np.fromiter(
                (r[0] for r in readings), dtype=np.int64, count=len(readings)
            ),
            sensor=np.array(indices, dtype=np.uint16),
            # numpy stores None as NaN in a float array.
            value=np.fromiter(
                (r[2] for r in readings), dtype=np.float64, count=len(readings)
            ),
            clock=clock or ClockState(),
        )

    def readings(self) -> list[tuple[int, str, float]]:
        """The batch as (time_ns, sensor_key, value) tuples; for tests and small tools."""
        keys = self.sensors
        return [
            (t, keys[s], v)
            for t, s, v in zip(
                self.time_ns.tolist(),
                self.sensor.tolist(),
                self.value.tolist(),
                strict=True,
            )
        ]


def topic(device_id: str, channel: str) -> str:
    """The topic of one of a device's channels: telemetry, status, config, events or receipts."""
    if channel not in CHANNELS:
        raise WireError(
            f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}"
        )
    if not DEVICE_ID_PATTERN.match(device_id):
        raise WireError(f"invalid device id {device_id!r}: use {DEVICE_ID_RULE}")
    return f"{TOPIC_ROOT}/{device_id}/{channel}"


def parse_topic(name: str) -> tuple[str, str]:
    """Split a contract topic into (device_id, channel); raise WireError for any other topic."""
    parts = name.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != TOPIC_ROOT or parts[3] not in CHANNELS:
        raise WireError(
            f"topic {name!r} is not {TOPIC_ROOT}/<device>/<{'|'.join(CHANNELS)}>"
        )
    if not DEVICE_ID_PATTERN.match(parts[2]):
        raise WireError(f"topic {name!r} has an invalid device id")
    return parts[2], parts[3]


def _check(batch: Batch) -> None:
    n = len(batch.time_ns)
    if len(batch.sensor) != n or len(batch.value) != n:
        raise WireError("time_ns, sensor and value must have the same length")
    _check_frame(seq=batch.seq, keys=batch.sensors, n=n, clock=batch.clock)
    if n and int(batch.sensor.max()) >= len(batch.sensors):
        raise WireError(
            f"sensor index {int(batch.sensor.max())} has no key (batch has {len(batch.sensors)} keys)"
        )


def _check_frame(*, seq: int, keys: Sequence[str], n: int, clock: ClockState) -> None:
    """The rules every batch follows, however it is built."""
    if n > MAX_READINGS:
        raise WireError(f"batch has {n} readings; the limit is {MAX_READINGS}")
    if not 0 <= seq < 2**63:
        raise WireError(f"seq {seq} is outside 0..2^63-1")
    if len(keys) > 0xFFFF:
        raise WireError("too many sensor keys")
    for key in keys:
        # A JSON key may be any length: say how long rather than quote it whole.
        if len(key) > 63:
            raise WireError(
                f"invalid sensor key of {len(key)} characters: use {SENSOR_KEY_RULE}"
            )
        if not SENSOR_KEY_PATTERN.match(key):
            raise WireError(f"invalid sensor key {key!r}: use {SENSOR_KEY_RULE}")
    offset = clock.offset_ns
    if offset is not None and not -(2**63) <= offset < 2**63:
        raise WireError("clock offset does not fit in int64")


def _frame(
    *,
    seq: int,
    keys: Sequence[str],
    n: int,
    clock: ClockState,
    columns: Sequence[bytes],
) -> bytes:
    """Header, keys, padding and the three little-endian columns: the layout above, once."""
    flags = (FLAG_SYNCED if clock.synced else 0) | (
        FLAG_OFFSET_KNOWN if clock.offset_ns is not None else 0
    )
    parts = [
        _HEADER.pack(
            MAGIC, WIRE_VERSION, flags, seq, clock.offset_ns or 0, n, len(keys), 0
        )
    ]
    for key in keys:
        raw = key.encode()
        parts.append(bytes([len(raw)]) + raw)
    size = sum(len(p) for p in parts)
    parts.append(b"\0" * (-size % 8))
    parts.extend(columns)
    return b"".join(parts)


def encode_readings(
    *,
    seq: int,
    readings: Sequence[tuple[int, str, float | None]],
    clock: ClockState | None = None,
) -> bytes:
    """Encode (time_ns, sensor_key, value) tuples as a binary frame, without numpy.

    The same bytes as `encode_binary(Batch.from_readings(...))`: keys indexed in first-seen
    order, None (a NaN stored by SQLite) as NaN.
    """
    clock = clock or ClockState()
    keys: dict[str, int] = {}
    sensor = array("H", [keys.setdefault(key, len(keys)) for _, key, _ in readings])
    _check_frame(seq=seq, keys=tuple(keys), n=len(readings), clock=clock)
    time_ns = array("q", [r[0] for r in readings])
    value = array("d", [math.nan if r[2] is None else r[2] for r in readings])
    if sys.byteorder == "big":
        for column in (time_ns, value, sensor):
            column.byteswap()
    columns = (time_ns.tobytes(), value.tobytes(), sensor.tobytes())
    return _frame(
        seq=seq, keys=tuple(keys), n=len(readings), clock=clock, columns=columns
    )


def encode_columns(
    *,
    seq: int,
    keys: Sequence[str],
    time_ns: bytes,
    value: bytes,
    sensor: bytes,
    clock: ClockState | None = None,
) -> bytes:
    """A binary frame from its three columns, already little-endian bytes (the edge outbox keeps
    pending readings this way, so sealing a batch is concatenation)."""
    clock = clock or ClockState()
    n = len(time_ns) // 8
    if len(time_ns) != 8 * n or len(value) != 8 * n or len(sensor) != 2 * n:
        raise WireError("time_ns, value and sensor columns must hold the same readings")
    _check_frame(seq=seq, keys=keys, n=n, clock=clock)
    return _frame(
        seq=seq, keys=keys, n=n, clock=clock, columns=(time_ns, value, sensor)
    )


def encode_binary(batch: Batch) -> bytes:
    """Encode a batch as a binary frame (layout in the module docstring)."""
    _check(batch)
    columns = (
        batch.time_ns.astype("<i8", copy=False).tobytes(),
        batch.value.astype("<f8", copy=False).tobytes(),
        batch.sensor.astype("<u2", copy=False).tobytes(),
    )
    return _frame(
        seq=batch.seq,
        keys=batch.sensors,
        n=len(batch),
        clock=batch.clock,
        columns=columns,
    )


def _decode_binary(payload: bytes) -> Batch:
    import numpy as np

    if len(payload) < _HEADER.size:
        raise WireError(
            f"binary frame of {len(payload)} bytes is shorter than its {_HEADER.size}-byte header"
        )
    _magic, version, flags, seq, offset_ns, n, k, _ = _HEADER.unpack_from(payload)
    if version != WIRE_VERSION:
        raise WireError(
            f"binary frame version {version} is not supported (expected {WIRE_VERSION})"
        )
    if n > MAX_READINGS:
        raise WireError(f"batch has {n} readings; the limit is {MAX_READINGS}")
    if seq >= 2**63:
        raise WireError(f"seq {seq} is outside 0..2^63-1")
    pos = _HEADER.size
    keys = []
    for _ in range(k):
        if pos >= len(payload):
            raise WireError("binary frame ends inside its sensor keys")
        length = payload[pos]
        raw = payload[pos + 1 : pos + 1 + length]
        if len(raw) != length:
            raise WireError("binary frame ends inside its sensor keys")
        try:
            keys.append(raw.decode())
        except UnicodeDecodeError as exc:
            raise WireError(f"sensor key {len(keys)} is not UTF-8") from exc
        pos += 1 + length
    pos += -pos % 8
    expected = pos + 18 * n
    if len(payload) != expected:
        raise WireError(
            f"binary frame is {len(payload)} bytes; {n} readings and {k} keys need {expected}"
        )
    batch = Batch(
        seq=seq,
        sensors=tuple(keys),
        time_ns=np.frombuffer(payload, dtype="<i8", count=n, offset=pos).astype(
            np.int64, copy=False
        ),
        value=np.frombuffer(payload, dtype="<f8", count=n, offset=pos + 8 * n).astype(
            np.float64, copy=False
        ),
        sensor=np.frombuffer(payload, dtype="<u2", count=n, offset=pos + 16 * n).astype(
            np.uint16, copy=False
        ),
        clock=ClockState(
            synced=bool(flags & FLAG_SYNCED),
            offset_ns=offset_ns if flags & FLAG_OFFSET_KNOWN else None,
        ),
    )
    _check(batch)
    return batch


def encode_json(batch: Batch) -> bytes:
    """Encode a batch as compact JSON; non-finite values are written as null (JSON has no NaN)."""
    _check(batch)
    clock: dict[str, Any] = {"synced": batch.clock.synced}
    if batch.clock.offset_ns is not None:
        clock["offset_ns"] = batch.clock.offset_ns
    values = [v if math.isfinite(v) else None for v in batch.value.tolist()]
    document = {
        "v": WIRE_VERSION,
        "seq": batch.seq,
        "clock": clock,
        "sensors": list(batch.sensors),
        "time_ns": batch.time_ns.tolist(),
        "sensor": batch.sensor.tolist(),
        "value": values,
    }
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def _int_column(
    document: dict[str, Any], name: str, dtype: type[np.integer[Any]]
) -> npt.NDArray[Any]:
    import numpy as np

    column = document.get(name)
    if not isinstance(column, list) or not all(type(x) is int for x in column):
        raise WireError(f"field {name!r} must be a list of integers")
    info = np.iinfo(dtype)
    if column and (min(column) < info.min or max(column) > info.max):
        raise WireError(f"field {name!r} has a value outside {info.min}..{info.max}")
    return np.array(column, dtype=dtype)


def _decode_json(payload: bytes) -> Batch:
    import numpy as np

    try:
        document = json.loads(payload)
    # json raises RecursionError for deeply nested arrays, which fit easily in MAX_PAYLOAD_BYTES.
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"payload is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise WireError("JSON payload must be an object")
    if type(document.get("v")) is not int or document["v"] != WIRE_VERSION:
        raise WireError(
            f"JSON field 'v' must be {WIRE_VERSION}, got {document.get('v')!r}"
        )
    seq = document.get("seq")
    if type(seq) is not int or not 0 <= seq < 2**63:
        raise WireError("field 'seq' must be an integer in 0..2^63-1")
    sensors = document.get("sensors")
    if not isinstance(sensors, list) or not all(isinstance(s, str) for s in sensors):
        raise WireError("field 'sensors' must be a list of strings")
    clock = document.get("clock", {})
    if not isinstance(clock, dict) or not isinstance(clock.get("synced", False), bool):
        raise WireError("field 'clock' must be an object with a boolean 'synced'")
    offset = clock.get("offset_ns")
    if offset is not None and type(offset) is not int:
        raise WireError("field 'clock.offset_ns' must be an integer")
    values = document.get("value")
    if not isinstance(values, list) or not all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool))
        for v in values
    ):
        raise WireError(
            "field 'value' must be a list of numbers (null for a missing value)"
        )
    if len(values) > MAX_READINGS:
        raise WireError(
            f"batch has {len(values)} readings; the limit is {MAX_READINGS}"
        )
    # An integer literal beyond float64 (1 followed by 400 zeros) raises OverflowError here.
    try:
        value = np.array(
            [math.nan if v is None else v for v in values], dtype=np.float64
        )
    except OverflowError as exc:
        raise WireError("field 'value' has a number outside the float64 range") from exc
    batch = Batch(
        seq=seq,
        sensors=tuple(sensors),
        time_ns=_int_column(document, "time_ns", np.int64),
        sensor=_int_column(document, "sensor", np.uint16),
        value=value,
        clock=ClockState(synced=bool(clock.get("synced", False)), offset_ns=offset),
    )
    _check(batch)
    return batch


def decode_batch(payload: bytes) -> Batch:
    """Decode a telemetry payload in either encoding; raise WireError saying what is wrong."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(
            f"payload of {len(payload)} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit"
        )
    if payload[:2] == MAGIC:
        return _decode_binary(payload)
    if payload[:1] == b"{":
        return _decode_json(payload)
    raise WireError(
        "payload is neither a binary frame (starts with b'LL') nor a JSON object"
    )


# --- status, config and events: small JSON documents -------------------------------------------

# Every field of a status and an event is bounded: integers to int64 (the database's bigint),
# texts to a length. A 100 kB event type was stored before these limits.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_AGENT_VERSION_CHARS = 64
MAX_EVENT_MESSAGE_CHARS = 1000
EVENT_TYPE_REGEX = r"^[a-z][a-z0-9_]{0,31}$"
EVENT_TYPE_RULE = "1-32 of a-z 0-9 _, starting with a letter"
STATUS_STATE_REGEX = r"^(online|offline)$"
_Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
_Time = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]


def clip(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut before a word rather than inside it, marked "…".

    Only a text with no space in its first `limit` characters is cut inside its first word.
    """
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space].rstrip() if space > 0 else head) + "…"


class Status(BaseModel):
    """The retained heartbeat on `status`; the last will is the same document with state "offline"."""

    model_config = ConfigDict(extra="ignore")
    v: int = Field(default=WIRE_VERSION, ge=WIRE_VERSION, le=WIRE_VERSION)
    state: str = Field(pattern=STATUS_STATE_REGEX)
    time_ns: _Time | None = None
    uptime_s: float | None = Field(default=None, ge=0, le=1e10, allow_inf_nan=False)
    outbox_depth: _Count | None = None
    outbox_dropped: _Count | None = None
    readings_sampled: _Count | None = None
    readings_acked: _Count | None = None
    agent_version: str | None = Field(default=None, max_length=MAX_AGENT_VERSION_CHARS)
    config_revision: _Count | None = None
    clock_synced: bool | None = None
    clock_offset_ns: _Time | None = None


OFFLINE_STATUS = Status(state="offline").model_dump_json(exclude_none=True).encode()


class SensorSchedule(BaseModel):
    """Desired state of one configured sensor (by the name it has in agent.toml)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    interval_s: float = Field(default=10.0, ge=0.1, le=86_400)


class DesiredConfig(BaseModel):
    """The retained desired configuration on `config`; fields left out keep their current value."""

    model_config = ConfigDict(extra="forbid")
    v: int = Field(default=WIRE_VERSION, ge=WIRE_VERSION, le=WIRE_VERSION)
    revision: int = Field(ge=0)
    batch_size: int | None = Field(default=None, ge=1, le=MAX_READINGS)
    batch_max_age_s: float | None = Field(default=None, ge=0.05, le=3600)
    heartbeat_interval_s: float | None = Field(default=None, ge=1, le=3600)
    sensors: dict[str, SensorSchedule] = Field(default_factory=dict)


class Event(BaseModel):
    """A device event on `events`: config_applied, config_rejected, outbox_purged, error.

    A sender shortens its message with `clip(message, MAX_EVENT_MESSAGE_CHARS)`.
    """

    model_config = ConfigDict(extra="ignore")
    v: int = Field(default=WIRE_VERSION, ge=WIRE_VERSION, le=WIRE_VERSION)
    type: str = Field(max_length=32, pattern=EVENT_TYPE_REGEX)
    time_ns: int = Field(ge=INT64_MIN, le=INT64_MAX)
    revision: _Count | None = None
    message: str | None = Field(default=None, max_length=MAX_EVENT_MESSAGE_CHARS)
    count: _Count | None = None
