"""A simulated sensor with realistic daily curves, for demos, tests and pilot dry runs."""

from __future__ import annotations

import hashlib
import logging
import math
import struct
import zlib
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from livinglab_edge_agent.sensors.base import (
    Reading,
    SensorKey,
    SensorSpec,
    parse_options,
)

__all__ = ["Simulated", "SimulatedOptions", "open_simulated"]

logger = logging.getLogger(__name__)

Kind = Literal["air", "particulate", "noise"]

KEYS: dict[str, tuple[SensorKey, ...]] = {
    "air": (
        ("air_temperature", "air_temperature", "degC"),
        ("relative_humidity", "relative_humidity", "%"),
        ("air_pressure", "air_pressure", "hPa"),
    ),
    "particulate": (("pm2_5", "pm2_5", "ug/m3"), ("pm10", "pm10", "ug/m3")),
    "noise": (("noise_level", "noise_level", "dBA"),),
}

# Central European Time without daylight saving: a fixed offset keeps the curves a pure function
# of time_ns, and an hour's error in summer does not matter for demo data.
LOCAL_OFFSET_S = 3600
DAY_S = 86_400
# Ljubljana lies at about 295 m, so a station (not sea-level) pressure sits near 980 hPa.
STATION_PRESSURE_HPA = 980.0


class SimulatedOptions(BaseModel):
    """Options of the `simulated` driver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind = "air"
    seed: int | None = Field(default=None, ge=0)
    dropout: float = Field(default=0.01, ge=0.0, le=1.0)


def _local_hour(time_ns: int) -> float:
    """Hour of the local day in [0, 24)."""
    return ((time_ns // 1_000_000_000 + LOCAL_OFFSET_S) % DAY_S) / 3600.0


def _bump(hour: float, *, centre: float, width: float) -> float:
    """A Gaussian bump on the 24 h circle, 1.0 at `centre`."""
    distance = (hour - centre + 12.0) % 24.0 - 12.0
    return math.exp(-0.5 * (distance / width) ** 2)


def _sigmoid(x: float) -> float:
    """The logistic function."""
    return 1.0 / (1.0 + math.exp(-x))


class Simulated:
    """Deterministic sensor: readings are a pure function of (seed, kind, time_ns)."""

    def __init__(
        self, name: str, *, kind: Kind = "air", seed: int = 0, dropout: float = 0.01
    ) -> None:
        self.name = name
        self.kind = kind
        self.seed = seed
        self.dropout = dropout
        # Per-site character that stays fixed for a seed: a warmer corner, a dirtier street.
        site = _Noise(seed, 0xC0FFEE)
        self._temperature_offset_c = _clip(site.normal(0.0, 1.0), -2.0, 2.0)
        self._pm_factor = math.exp(_clip(site.normal(0.0, 0.2), -0.5, 0.5))
        self._pressure_phase = site.random() * 2.0 * math.pi

    @property
    def keys(self) -> tuple[SensorKey, ...]:
        """The (key, quantity, unit) triples of this kind."""
        return KEYS[self.kind]

    def read(self, time_ns: int) -> list[Reading]:
        """Simulate one read at `time_ns`; [] with probability `dropout`."""
        # Drawing per call from (seed, ms) makes any read reproducible on its own, in any order;
        # the mask keeps the hashed integers non-negative for times before 1970.
        rng = _Noise(self.seed, time_ns // 1_000_000)
        if rng.random() < self.dropout:
            return []
        hour = _local_hour(time_ns)
        if self.kind == "air":
            return self._air(rng, hour=hour, time_ns=time_ns)
        if self.kind == "particulate":
            return self._particulate(rng, hour=hour)
        return self._noise(rng, hour=hour)

    def close(self) -> None:
        """Nothing to release."""

    def _air(self, rng: _Noise, *, hour: float, time_ns: int) -> list[Reading]:
        """Temperature peaking mid-afternoon, humidity following it inversely, slow pressure drift."""
        mean_c = 15.0 + self._temperature_offset_c
        swing_c = 6.0 * math.cos(2.0 * math.pi * (hour - 15.0) / 24.0)
        temperature = _clip(mean_c + swing_c + rng.normal(0.0, 0.3), 2.0, 28.0)
        # Absolute humidity changes little over a day, so relative humidity falls as air warms.
        humidity = _clip(
            60.0 - 3.0 * (temperature - mean_c) + rng.normal(0.0, 2.0), 15.0, 100.0
        )
        days = time_ns / 1e9 / DAY_S
        # Weather systems pass every few days; the semidiurnal atmospheric tide peaks near 10 and 22 h.
        synoptic_hpa = 6.0 * math.sin(2.0 * math.pi * days / 4.7 + self._pressure_phase)
        tide_hpa = 0.6 * math.cos(2.0 * math.pi * (hour - 10.0) / 12.0)
        pressure = (
            STATION_PRESSURE_HPA + synoptic_hpa + tide_hpa + rng.normal(0.0, 0.05)
        )
        return [
            Reading("air_temperature", round(temperature, 2)),
            Reading("relative_humidity", round(humidity, 2)),
            Reading("air_pressure", round(pressure, 2)),
        ]

    def _particulate(self, rng: _Noise, *, hour: float) -> list[Reading]:
        """Morning traffic and evening traffic-plus-heating peaks; PM10 always includes PM2.5."""
        peaks = _bump(hour, centre=8.0, width=1.5) + 1.3 * _bump(
            hour, centre=20.0, width=2.5
        )
        pm2_5 = 12.0 * self._pm_factor * (1.0 + peaks) * math.exp(rng.normal(0.0, 0.15))
        # Coarse particles add 40-100 % on top of the fine fraction in urban background air.
        pm10 = pm2_5 * (1.4 + 0.3 * abs(rng.normal(0.0, 1.0)))
        # Round like an SDS011 (0.1 ug/m3); rounding is monotone, so PM10 >= PM2.5 survives it.
        return [
            Reading("pm2_5", round(min(pm2_5, 999.9), 1)),
            Reading("pm10", round(min(pm10, 999.9), 1)),
        ]

    def _noise(self, rng: _Noise, *, hour: float) -> list[Reading]:
        """About 60 dBA by day (06:30-22:00), about 44 dBA at night."""
        activity = _sigmoid(2.0 * (hour - 6.5)) * _sigmoid(2.0 * (22.0 - hour))
        level = 44.0 + 16.0 * activity + rng.normal(0.0, 2.5)
        return [Reading("noise_level", round(_clip(level, 30.0, 95.0), 1))]


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


_MASK64 = (1 << 64) - 1
# Enough uniform draws for any one read (a dropout draw and two Box-Muller pairs), from one hash.
_DRAWS = 8
_SEED = struct.Struct("<QQ")
_UNPACK = struct.Struct(f"<{_DRAWS}Q").unpack
_TO_UNIT = 2.0**-53


class _Noise:
    """Deterministic noise for one read: uniform draws hashed from (seed, millisecond).

    One BLAKE2b digest gives all the draws a read needs in a single C call; a generator stepped
    in Python integers cost several microseconds per read, a large part of a simulated station's
    sampling cost at the benchmark's rates. Any read stays reproducible on its own, in any order.
    """

    __slots__ = ("_spare", "_uniforms")

    def __init__(self, seed: int, ms: int) -> None:
        digest = hashlib.blake2b(
            _SEED.pack(seed & _MASK64, ms & _MASK64), digest_size=8 * _DRAWS
        ).digest()
        self._uniforms: Iterator[float] = iter(
            [(x >> 11) * _TO_UNIT for x in _UNPACK(digest)]
        )
        self._spare: float | None = None

    def random(self) -> float:
        """A float in [0, 1)."""
        return next(self._uniforms)

    def normal(self, mean: float, sd: float) -> float:
        """A normal variate (Box-Muller, whose second variate serves the next call)."""
        if self._spare is not None:
            z, self._spare = self._spare, None
            return mean + sd * z
        radius = math.sqrt(-2.0 * math.log(1.0 - self.random()))  # 1 - u in (0, 1]
        angle = 2.0 * math.pi * self.random()
        self._spare = radius * math.sin(angle)
        return mean + sd * radius * math.cos(angle)


def open_simulated(spec: SensorSpec) -> Simulated:
    """Build a simulated sensor from its spec; the seed defaults to a stable hash of the name."""
    options = parse_options(spec, SimulatedOptions)
    # crc32, not hash(): str hashes are salted per process, and runs must repeat exactly.
    seed = options.seed if options.seed is not None else zlib.crc32(spec.name.encode())
    return Simulated(spec.name, kind=options.kind, seed=seed, dropout=options.dropout)
