"""Telemetry frames for `livinglab bench ingest`: encoded ahead, timestamped as they are published.

Encoding is kept out of the measurement: each frame is a binary payload built once, whose time
column is overwritten in place just before the frame is handed to the broker, so every reading
carries its publish time and the time a batch was published is exactly what the database stores.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livinglab_edge_agent.wire import Batch, ClockState, encode_binary
from livinglab_lab.bench.harness import Message

__all__ = ["Frame", "plan_frames", "scheduled", "stamped"]


@dataclass(frozen=True, eq=False)
class Frame:
    """A pre-encoded binary frame whose time column is written when it is published."""

    seq: int
    payload: bytearray
    times: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    sensor: npt.NDArray[np.uint16]
    value: npt.NDArray[np.float64]
    span_ns: int

    @property
    def readings(self) -> int:
        return len(self.offsets)


def plan_frames(
    *, count: int, batch_size: int, keys: tuple[str, ...], seed: int
) -> list[Frame]:
    """Encode a device's `count` readings as frames of `batch_size`, seq 1, 2, ..."""
    rng = np.random.default_rng(seed)
    frames = []
    for seq, start in enumerate(range(0, count, batch_size), start=1):
        n = min(batch_size, count - start)
        index = np.arange(n, dtype=np.int64)
        # One sample step per microsecond: timestamptz keeps microseconds, so (sensor, time)
        # stays unique in the database.
        offsets = index // len(keys) * 1_000
        sensor = (index % len(keys)).astype(np.uint16)
        value = np.round(rng.normal(15.0, 5.0, n), 2)
        batch = Batch(
            seq=seq,
            sensors=keys,
            time_ns=offsets,
            sensor=sensor,
            value=value,
            clock=ClockState(synced=True, offset_ns=0),
        )
        payload = bytearray(encode_binary(batch))
        # The time column starts 18 bytes per reading before the end (wire.py's layout).
        times = np.frombuffer(
            payload, dtype="<i8", count=n, offset=len(payload) - 18 * n
        )
        frames.append(
            Frame(
                seq=seq,
                payload=payload,
                times=times,
                offsets=offsets,
                sensor=sensor,
                value=value,
                span_ns=int(offsets[-1]) + 1_000,
            )
        )
    return frames


def stamped(frames: Sequence[Frame]) -> Iterator[Message]:
    """The frames with their readings timestamped at publish time, never overlapping."""
    next_free_ns = 0
    for frame in frames:
        now_ns = time.time_ns()
        base_ns = max(now_ns - now_ns % 1_000, next_free_ns)
        np.add(frame.offsets, base_ns, out=frame.times)
        next_free_ns = base_ns + frame.span_ns
        yield Message(frame.seq, frame.payload, frame.readings, now_ns)


def scheduled(
    frames: Sequence[Frame], *, interval_s: float, delay_s: float = 0.0
) -> Iterator[Message]:
    """`stamped(frames)`, one every `interval_s`, the first `delay_s` after the publisher starts.

    The clock starts when the first frame is asked for, that is when the publisher starts, and
    the schedule is absolute: a frame released late does not push back the ones after it.
    Each frame is stamped after the wait, when it is released.
    """
    messages = stamped(frames)
    start_s = time.perf_counter() + delay_s
    for index in range(len(frames)):
        pause_s = start_s + index * interval_s - time.perf_counter()
        if pause_s > 0:
            time.sleep(pause_s)
        yield next(messages)
