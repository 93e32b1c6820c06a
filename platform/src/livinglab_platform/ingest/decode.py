"""From an MQTT message (topic, payload) to a decoded batch, status or event, or a quarantine reason."""

from __future__ import annotations

from dataclasses import dataclass

from livinglab_edge_agent.wire import (
    Batch,
    Event,
    Status,
    WireError,
    decode_batch,
    parse_topic,
)

__all__ = ["Decoded", "DeviceEvent", "Rejected", "StatusUpdate", "Telemetry", "decode"]

# What a payload longer than this is shown as in a reason (never the whole payload).
_REASON_PREVIEW_CHARS = 200


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
    rows = 1


Decoded = Telemetry | StatusUpdate | DeviceEvent | Rejected


def _short(text: str) -> str:
    return (
        text
        if len(text) <= _REASON_PREVIEW_CHARS
        else text[:_REASON_PREVIEW_CHARS] + "..."
    )


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
        kind = "telemetry batch" if channel == "telemetry" else f"{channel} message"
        return Rejected(
            device_id=device_id, reason=_short(f"undecodable {kind}: {exc}")
        )
    return Rejected(
        device_id=device_id,
        reason=f"topic {topic!r} is not a telemetry, status or events topic",
    )
