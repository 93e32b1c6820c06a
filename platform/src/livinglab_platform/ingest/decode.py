"""From an MQTT message (topic, payload) to a decoded batch, status or event, or a quarantine reason."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from livinglab_edge_agent.wire import (
    EVENT_TYPE_REGEX,
    EVENT_TYPE_RULE,
    STATUS_STATE_REGEX,
    Batch,
    Event,
    Status,
    WireError,
    clip,
    decode_batch,
    parse_topic,
)

__all__ = [
    "Decoded",
    "DeviceEvent",
    "Rejected",
    "StatusUpdate",
    "Telemetry",
    "claimed_seq",
    "decode",
]

# A binary frame's seq ends at byte 12 (magic 2, version 1, flags 1, seq 8: broker/README.md).
_SEQ_END = 12
_SEQ_MAX = 2**63 - 1
# A reason is at most this long, cut before a word (never the whole payload).
_REASON_MAX_CHARS = 300
# The problems of a status or event named in its reason; the rest are counted.
_REASON_MAX_PROBLEMS = 3
# What a pattern means, in words, for the reasons people read.
_PATTERN_RULES = {
    STATUS_STATE_REGEX: "'online' or 'offline'",
    EVENT_TYPE_REGEX: EVENT_TYPE_RULE,
}
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "less_than_equal": ("at most", "le"),
    "greater_than": ("more than", "gt"),
    "less_than": ("less than", "lt"),
}


@dataclass(frozen=True, slots=True)
class Telemetry:
    """A decoded telemetry batch of one device."""

    device_id: str
    batch: Batch

    @property
    def rows(self) -> int:
        return len(self.batch)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A heartbeat (or the last will) of one device."""

    device_id: str
    status: Status
    rows = 1


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """An event a device reported."""

    device_id: str
    event: Event
    rows = 1


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that cannot be stored at all: it goes whole to the quarantine with `reason`."""

    device_id: str | None
    reason: str
    seq: int | None = None
    # The seq an undecodable batch claims in a readable header: it explains the ledger's gap.
    claimed_seq: int | None = None
    rows = 1


Decoded = Telemetry | StatusUpdate | DeviceEvent | Rejected


def _problem(error: dict[str, Any]) -> str:
    """One validation error as a person can act on it: the field, what is wrong, the limit."""
    field = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error["input"]
    if kind == "json_invalid":
        return f"payload is not valid JSON ({ctx.get('error', 'unreadable')})"
    if not field:
        return "payload must be a JSON object"
    if kind == "missing":
        return f"field {field!r} is required"
    if kind == "string_too_long":
        return f"field {field!r} has {len(value)} characters; the limit is {ctx['max_length']}"
    if kind == "string_pattern_mismatch":
        rule = _PATTERN_RULES.get(ctx["pattern"], f"match {ctx['pattern']}")
        return f"field {field!r} must be {rule}"
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return f"field {field!r} must be {words} {ctx[key]}"
    if kind == "finite_number":
        return f"field {field!r} must be a finite number"
    # pydantic's own sentence ("Input should be a valid integer"), without its documentation link.
    return f"field {field!r}: {error['msg']}"


def _reason(kind: str, exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False)
        problems = [_problem(dict(e)) for e in errors[:_REASON_MAX_PROBLEMS]]
        if len(errors) > _REASON_MAX_PROBLEMS:
            problems.append(f"{len(errors) - _REASON_MAX_PROBLEMS} more problem(s)")
        detail = "; ".join(problems)
    else:
        detail = str(exc)
    return clip(f"undecodable {kind}: {detail}", _REASON_MAX_CHARS)


def claimed_seq(payload: bytes) -> int | None:
    """The seq a batch that does not decode claims, where its header can be read; else None.

    A binary frame's seq is the uint64 at offset 4 after the magic `LL` and version 1 (the frame
    may be cut or wrong further on); a JSON document's is its top-level integer `seq`. A seq
    outside 0..2^63-1 is no seq.
    """
    if payload[:3] == b"LL\x01" and len(payload) >= _SEQ_END:
        (seq,) = struct.unpack_from("<Q", payload, 4)
    elif payload[:1] == b"{":
        try:
            document = json.loads(payload)
        except (ValueError, RecursionError):
            return None
        seq = document.get("seq") if isinstance(document, dict) else None
    else:
        return None
    return seq if type(seq) is int and 0 <= seq <= _SEQ_MAX else None


def decode(topic: str, payload: bytes) -> Decoded:
    """Decode one message; anything that does not follow the contract becomes `Rejected`."""
    try:
        device_id, channel = parse_topic(topic)
    except WireError as exc:
        return Rejected(device_id=None, reason=str(exc))
    try:
        if channel == "telemetry":
            return Telemetry(device_id=device_id, batch=decode_batch(payload))
        if channel == "status":
            return StatusUpdate(
                device_id=device_id, status=Status.model_validate_json(payload)
            )
        if channel == "events":
            return DeviceEvent(
                device_id=device_id, event=Event.model_validate_json(payload)
            )
    # WireError and pydantic's ValidationError are ValueErrors; a JSON integer too large for a
    # float raises OverflowError inside numpy, and deeply nested JSON raises RecursionError.
    except (ValueError, OverflowError, RecursionError) as exc:
        if channel != "telemetry":
            return Rejected(
                device_id=device_id, reason=_reason(f"{channel} message", exc)
            )
        return Rejected(
            device_id=device_id,
            reason=_reason("telemetry batch", exc),
            claimed_seq=claimed_seq(payload),
        )
    return Rejected(
        device_id=device_id,
        reason=f"topic {topic!r} is not a telemetry, status or events topic",
    )
