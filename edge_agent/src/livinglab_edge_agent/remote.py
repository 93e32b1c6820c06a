"""Remote configuration: the settings the platform may change, and how a desired config applies.

The platform publishes a retained `wire.DesiredConfig` on the device's config topic. Fields left
out keep their current value, so a document naming one sensor leaves the others alone. A document
that is not JSON, breaks the schema or names a sensor this device lacks is rejected whole, with a
reason meant for the person who wrote it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from pydantic import ValidationError

from livinglab_edge_agent.config import AgentConfig, describe_validation_error
from livinglab_edge_agent.wire import DesiredConfig

__all__ = ["ConfigRejected", "Schedule", "Settings", "apply_desired"]


class ConfigRejected(ValueError):
    """Raised for a desired configuration that cannot be applied; the message says why."""

    def __init__(self, message: str, *, revision: int | None) -> None:
        super().__init__(message)
        self.revision = revision


@dataclass(frozen=True)
class Schedule:
    """When a sensor is sampled."""

    enabled: bool
    interval_s: float


@dataclass(frozen=True)
class Settings:
    """The part of the configuration that remote configuration changes, as in effect now."""

    batch_size: int
    batch_max_age_s: float
    heartbeat_interval_s: float
    sensors: dict[str, Schedule]
    revision: int | None = None

    @classmethod
    def from_config(cls, config: AgentConfig) -> Settings:
        """The settings of the configuration file, before any remote configuration."""
        return cls(
            batch_size=config.uplink.batch_size,
            batch_max_age_s=config.uplink.batch_max_age_s,
            heartbeat_interval_s=config.heartbeat_interval_s,
            sensors={s.name: Schedule(s.enabled, s.interval_s) for s in config.sensors},
        )

    def updated(self, desired: DesiredConfig) -> Settings:
        """These settings with `desired` applied; ConfigRejected for a sensor this device lacks."""
        unknown = sorted(set(desired.sensors) - set(self.sensors))
        if unknown:
            have = ", ".join(map(repr, self.sensors)) or "no sensors"
            raise ConfigRejected(
                f"unknown sensor {', '.join(map(repr, unknown))}; this device has {have}",
                revision=desired.revision,
            )
        sensors = dict(self.sensors)
        for name, schedule in desired.sensors.items():
            # Only the fields the platform sent change; the others keep their current value.
            sensors[name] = replace(
                sensors[name], **schedule.model_dump(exclude_unset=True)
            )
        return Settings(
            batch_size=desired.batch_size or self.batch_size,
            batch_max_age_s=desired.batch_max_age_s or self.batch_max_age_s,
            heartbeat_interval_s=desired.heartbeat_interval_s
            or self.heartbeat_interval_s,
            sensors=sensors,
            revision=desired.revision,
        )

    def describe(self) -> str:
        """One line for the log and the config_applied event."""
        sensors = ", ".join(
            f"{name} every {s.interval_s:g} s" if s.enabled else f"{name} off"
            for name, s in self.sensors.items()
        )
        return (
            f"batch_size {self.batch_size}, batch_max_age_s {self.batch_max_age_s:g}, "
            f"heartbeat_interval_s {self.heartbeat_interval_s:g}; sensors: {sensors or 'none'}"
        )


def apply_desired(settings: Settings, payload: bytes) -> Settings:
    """The settings after the desired-config `payload`; ConfigRejected saying what is wrong."""
    revision = _peek_revision(payload)
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigRejected(f"not valid JSON: {exc}", revision=None) from exc
    if not isinstance(document, dict):
        raise ConfigRejected(
            "the configuration must be a JSON object", revision=revision
        )
    try:
        desired = DesiredConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigRejected(
            "; ".join(describe_validation_error(exc)), revision=revision
        ) from exc
    return settings.updated(desired)


def _peek_revision(payload: bytes) -> int | None:
    """The revision of a payload, if one can be found, to name it in the rejection."""
    try:
        revision = json.loads(payload).get("revision")
    except (UnicodeDecodeError, ValueError, AttributeError):
        return None
    return revision if type(revision) is int and revision >= 0 else None
