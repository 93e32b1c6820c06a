"""Nova Fitness SDS011 particulate matter sensor on a serial port (datasheet V1.3, laser dust sensor control protocol V1.3)."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from livinglab_edge_agent.errors import ConfigError, SensorError
from livinglab_edge_agent.sensors.base import (
    Reading,
    SensorKey,
    SensorSpec,
    parse_options,
)

__all__ = [
    "FRAME_LEN",
    "Sds011",
    "Sds011Options",
    "SerialPort",
    "open_sds011",
    "scan_frames",
]

logger = logging.getLogger(__name__)

# Data frame in active reporting mode (protocol section "Data Packet"): AA C0, PM2.5 low/high,
# PM10 low/high, two id bytes, checksum over bytes 2..7, AB.
HEADER = b"\xaa\xc0"
TAIL = 0xAB
FRAME_LEN = 10
BAUDRATE = 9600
# The sensor pushes a frame every second in active mode, so a few seconds cover a slow start.
DEFAULT_TIMEOUT_S = 3.0
# Keep at most this many unparsed bytes, so a port spewing garbage cannot grow memory.
MAX_BUFFER_BYTES = 4096


class SerialPort(Protocol):
    """The subset of `serial.Serial` this driver uses."""

    def read(self, size: int = 1) -> bytes: ...
    def close(self) -> None: ...


def scan_frames(buffer: bytearray) -> tuple[list[tuple[float, float]], int]:
    """Consume complete frames from `buffer`; return (pm2_5, pm10) pairs and the bad-checksum count."""
    frames: list[tuple[float, float]] = []
    bad = 0
    while True:
        start = buffer.find(HEADER)
        if start < 0:
            # Keep a trailing 0xAA: it may be the first half of a header still in flight.
            del buffer[
                : len(buffer) - 1 if buffer.endswith(HEADER[:1]) else len(buffer)
            ]
            return frames, bad
        del buffer[:start]
        if len(buffer) < FRAME_LEN:
            return frames, bad
        frame = bytes(buffer[:FRAME_LEN])
        if frame[9] != TAIL:
            # A header inside garbage or a reply frame: resynchronise one byte further on.
            del buffer[:1]
            continue
        if sum(frame[2:8]) & 0xFF != frame[8]:
            bad += 1
            del buffer[:1]
            continue
        del buffer[:FRAME_LEN]
        pm2_5 = int.from_bytes(frame[2:4], "little") / 10.0
        pm10 = int.from_bytes(frame[4:6], "little") / 10.0
        frames.append((pm2_5, pm10))


class Sds011:
    """An SDS011 in active reporting mode; `read` returns the newest valid frame."""

    keys: tuple[SensorKey, ...] = (
        ("pm2_5", "pm2_5", "ug/m3"),
        ("pm10", "pm10", "ug/m3"),
    )

    def __init__(
        self,
        port: SerialPort,
        *,
        name: str = "sds011",
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.bad_checksums = 0
        self._port = port
        self._buffer = bytearray()

    def read(self, time_ns: int) -> list[Reading]:
        """Drain the port and return the newest valid frame; `SensorError` if none arrives in time."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            latest = self._drain()
            if latest is not None:
                pm2_5, pm10 = latest
                return [Reading("pm2_5", pm2_5), Reading("pm10", pm10)]
            if time.monotonic() >= deadline:
                raise SensorError(
                    f"SDS011 {self.name!r}: no valid frame within {self.timeout_s} s "
                    f"({self.bad_checksums} bad checksums so far); is it powered and in active mode?"
                )

    def close(self) -> None:
        """Close the serial port."""
        self._port.close()

    def _drain(self) -> tuple[float, float] | None:
        """Read what is waiting (at least one frame's worth, up to the port timeout) and parse it."""
        waiting = int(getattr(self._port, "in_waiting", 0) or 0)
        try:
            chunk = self._port.read(max(waiting, FRAME_LEN))
        except OSError as exc:
            # serial.SerialException subclasses OSError: a USB adapter unplugged mid-read.
            raise SensorError(f"SDS011 {self.name!r}: serial error: {exc}") from exc
        if not chunk:
            # A port opened with timeout=0 returns at once; don't spin until the deadline.
            time.sleep(0.01)
            return None
        self._buffer += chunk
        if len(self._buffer) > MAX_BUFFER_BYTES:
            del self._buffer[:-MAX_BUFFER_BYTES]
        frames, bad = scan_frames(self._buffer)
        if bad:
            self.bad_checksums += bad
            logger.warning(
                "SDS011 %r: skipped %d frames with bad checksums", self.name, bad
            )
        return frames[-1] if frames else None


class Sds011Options(BaseModel):
    """Options of the `sds011` driver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    port: str = "/dev/ttyUSB0"
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0.0)


def open_sds011(spec: SensorSpec) -> Sds011:
    """Open the serial port (a device path or a pyserial URL) named in the spec."""
    options = parse_options(spec, Sds011Options)
    try:
        import serial
    except ImportError as exc:
        raise ConfigError(
            f"sensor {spec.name!r}: driver 'sds011' needs pyserial: pip install 'livinglab-edge-agent[pi]'"
        ) from exc
    try:
        # A short port timeout lets `read` check its own deadline between chunks.
        port = serial.serial_for_url(
            options.port, baudrate=BAUDRATE, timeout=min(options.timeout_s, 0.5)
        )
    except (OSError, ValueError) as exc:
        raise SensorError(
            f"sensor {spec.name!r}: cannot open serial port {options.port!r}: {exc}"
        ) from exc
    return Sds011(port, name=spec.name, timeout_s=options.timeout_s)
