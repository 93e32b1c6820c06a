"""The sensor plug point: what a driver is given (`SensorSpec`) and what it gives back."""

from __future__ import annotations

import logging
from typing import Any, NamedTuple, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livinglab_edge_agent.errors import ConfigError
from livinglab_edge_agent.wire import DEVICE_ID_REGEX

__all__ = ["Reading", "SensorKey", "SensorSource", "SensorSpec", "parse_options"]

logger = logging.getLogger(__name__)

# (key, quantity, unit), e.g. ("air_temperature", "air_temperature", "degC").
SensorKey = tuple[str, str, str]

_OptionsT = TypeVar("_OptionsT", bound=BaseModel)


class Reading(NamedTuple):
    """One measured value of a sensor key; the caller stamps the time.

    A named tuple rather than a frozen dataclass: a sensor makes one per value, thousands a
    second on a busy agent, and a tuple is made several times faster.
    """

    key: str
    value: float


class SensorSource(Protocol):
    """A configured sensor instance that the agent polls."""

    name: str

    @property
    def keys(self) -> tuple[SensorKey, ...]:
        """The (key, quantity, unit) triples this sensor produces."""
        ...

    def read(self, time_ns: int) -> list[Reading]:
        """Measure now; fewer or no readings on a dropout, `SensorError` on hardware failure."""
        ...

    def close(self) -> None:
        """Release the bus, port or file handles."""
        ...


class SensorSpec(BaseModel):
    """One sensor entry of the agent configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=DEVICE_ID_REGEX)
    driver: str
    interval_s: float = Field(default=10.0, ge=0.1)
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)


def parse_options(spec: SensorSpec, model: type[_OptionsT]) -> _OptionsT:
    """Validate `spec.options` against a driver's options model, naming any bad option."""
    try:
        return model.model_validate(spec.options)
    except ValidationError as exc:
        problems = "; ".join(
            f"option {'.'.join(str(part) for part in error['loc']) or '?'!r}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(
            f"sensor {spec.name!r} (driver {spec.driver!r}): {problems}"
        ) from exc
