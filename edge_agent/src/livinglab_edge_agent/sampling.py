"""Sampling: each configured sensor read at its own interval, on multiples of that interval.

Drivers whose read can wait a long time (an SDS011 waiting for its next serial frame, a DS18B20's
750 ms conversion) each get a thread of their own, so they cannot delay another sensor. All the
others (a read that takes at most milliseconds: the BME280 over I2C, the simulated sensors) share
one sampling thread: at each tick it reads every sensor that is due and stores their readings in
one outbox transaction. A Python thread waking costs more than reading a sensor, and a synced
commit far more than the rows it carries, so this is what keeps the agent's CPU per reading low
on a Pi. Sampling times fall on multiples of each interval (monotonic clock), so sensors with the
same interval are due together, and the own-thread sensors' reads join the same group commit
(outbox.py). A failing sensor is counted and reported, never stopping the rest. Readings are stamped with `time.time_ns()` at the
start of the read and handed to `store`, which writes them to the outbox before anything else.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from livinglab_edge_agent.errors import ConfigError, SensorError
from livinglab_edge_agent.remote import Schedule
from livinglab_edge_agent.sensors import (
    BLOCKING_DRIVERS,
    SensorSource,
    SensorSpec,
    create_sensor,
)
from livinglab_edge_agent.threadnames import name_current_thread

__all__ = ["Sampler"]

logger = logging.getLogger(__name__)

# A sensor failing every second must not flood the log or the events topic.
ERROR_REPORT_INTERVAL_S = 60.0
# A sensor that could not be opened is tried again, but not more often than this.
REOPEN_MIN_S = 10.0
ERROR_PAUSE_S = 1.0
DISABLED_POLL_S = 3600.0

Rows = list[tuple[int, str, float]]


@dataclass
class _Slot:
    """One configured sensor and its sampling state; only its own thread changes it."""

    spec: SensorSpec
    source: SensorSource | None = None
    wake: threading.Event = field(default_factory=threading.Event)
    last_start: float | None = None
    reopen_at: float = 0.0
    sampled: int = 0
    errors: int = 0
    reported_at: float | None = None


def _blocking(slot: _Slot) -> bool:
    """Whether the slot's driver may wait long in a read (its own thread) or not (shared)."""
    return slot.spec.driver in BLOCKING_DRIVERS


class Sampler:
    """The sampling threads of all configured sensors."""

    def __init__(
        self,
        specs: Sequence[SensorSpec],
        *,
        schedules: Callable[[], Mapping[str, Schedule]],
        store: Callable[[Rows], None],
        report: Callable[[str], None],
        sources: Sequence[SensorSource] = (),
    ) -> None:
        """Prepare one slot per spec; nothing is opened until `open()`.

        Args:
            schedules: the schedules in effect, by sensor name; read before every sample.
            store: writes one read's readings durably.
            report: sends an error message to the platform (already rate-limited).
            sources: ready-made sensors replacing the drivers of the specs with their names.
        """
        self._schedules = schedules
        self._store = store
        self._report = report
        self._slots = {spec.name: _Slot(spec) for spec in specs}
        for source in sources:
            if source.name not in self._slots:
                raise ConfigError(
                    f"sensor {source.name!r} has no [[sensors]] entry in the configuration"
                )
            self._slots[source.name].source = source
        self._stopping = threading.Event()
        self._shared_wake = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def writers(self) -> int:
        """The sampling threads that will store readings: the shared one and the blocking ones."""
        blocking = sum(1 for slot in self._slots.values() if _blocking(slot))
        return blocking + (1 if blocking < len(self._slots) else 0)

    @property
    def sampled(self) -> dict[str, int]:
        """Readings taken per sensor since start."""
        return {name: slot.sampled for name, slot in self._slots.items()}

    @property
    def errors(self) -> dict[str, int]:
        """Failed reads (or opens) per sensor since start."""
        return {name: slot.errors for name, slot in self._slots.items()}

    def open(self) -> None:
        """Open the enabled sensors; ConfigError aborts, absent hardware is retried later."""
        schedules = self._schedules()
        for name, slot in self._slots.items():
            if slot.source is None and schedules[name].enabled:
                self._open(slot, interval_s=schedules[name].interval_s)

    def start(self) -> None:
        """Start the shared sampling thread and one thread per blocking sensor."""
        shared = [slot for slot in self._slots.values() if not _blocking(slot)]
        own = [slot for slot in self._slots.values() if _blocking(slot)]
        for slot in shared:
            slot.wake = self._shared_wake
        self._threads = [
            threading.Thread(
                target=self._loop,
                args=(slot,),
                name=f"sensor-{slot.spec.name}",
                daemon=True,
            )
            for slot in own
        ]
        if shared:
            self._threads.append(
                threading.Thread(
                    target=self._shared_loop,
                    args=(shared,),
                    name="sensors",
                    daemon=True,
                )
            )
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Make every thread look at its schedule again (after a configuration change)."""
        for slot in self._slots.values():
            slot.wake.set()

    def stop(self, *, timeout_s: float) -> None:
        """Stop the threads, waiting up to `timeout_s` for each read in progress."""
        self._stopping.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout_s)
            if thread.is_alive():
                logger.warning("%s did not stop within %g s", thread.name, timeout_s)

    def close(self) -> None:
        """Release the sensors' buses and ports."""
        for slot in self._slots.values():
            source, slot.source = slot.source, None
            if source is None:
                continue
            try:
                source.close()
            except Exception:
                logger.exception("closing sensor %r failed", slot.spec.name)

    def _loop(self, slot: _Slot) -> None:
        """One blocking sensor on its own thread."""
        name_current_thread(f"sensor-{slot.spec.name}")
        while not self._stopping.is_set():
            slot.wake.clear()
            try:
                delay = self._due_in(slot)
                if delay == 0.0 and (rows := self._read(slot)):
                    self._store_reads([(slot, rows)])
            except Exception as exc:
                self._failed(slot, f"unexpected error: {exc!r}", exc_info=True)
                delay = ERROR_PAUSE_S
            if delay > 0:
                slot.wake.wait(delay)

    def _shared_loop(self, slots: list[_Slot]) -> None:
        """The sensors with short reads: at each tick, read those due and store them together.

        One look at the schedules and the clock serves the whole tick, and each sensor's next
        due time follows from the sample just taken: with a hundred sensors, looking each one up
        again was a noticeable part of the agent's CPU per reading.
        """
        name_current_thread("sensors")
        while not self._stopping.is_set():
            self._shared_wake.clear()
            schedules = self._schedules()
            now = time.monotonic()
            next_due = now + DISABLED_POLL_S
            reads: list[tuple[_Slot, Rows]] = []
            for slot in slots:
                try:
                    schedule = schedules[slot.spec.name]
                    if self._due_in(slot, schedule=schedule, now=now) == 0.0 and (
                        rows := self._read(slot)
                    ):
                        reads.append((slot, rows))
                    if slot.last_start is not None:  # None: disabled
                        next_due = min(next_due, slot.last_start + schedule.interval_s)
                except Exception as exc:
                    self._failed(slot, f"unexpected error: {exc!r}", exc_info=True)
                    next_due = min(next_due, now + ERROR_PAUSE_S)
            if reads:
                self._store_reads(reads)
            delay = next_due - time.monotonic()
            if delay > 0:
                self._shared_wake.wait(delay)

    def _due_in(
        self,
        slot: _Slot,
        *,
        schedule: Schedule | None = None,
        now: float | None = None,
    ) -> float:
        """Seconds until the slot's next sample; 0.0 means sample now (the cadence moves on).

        `schedule` and `now` default to the slot's schedule in effect and the monotonic clock.
        """
        if schedule is None:
            schedule = self._schedules()[slot.spec.name]
        if not schedule.enabled:
            slot.last_start = None
            return DISABLED_POLL_S
        interval = schedule.interval_s
        if now is None:
            now = time.monotonic()
        if slot.last_start is None:
            # Sample at once, then on multiples of the interval, so sensors with the same (or a
            # multiple) interval are due together.
            slot.last_start = math.floor(now / interval) * interval
            return 0.0
        # Due from the last sample, so a new interval from remote config applies at once.
        due = slot.last_start + interval
        if now < due:
            return due - now
        # Keep the cadence; after a slow read or a pause missed a whole interval, the latest
        # multiple of the interval (still aligned with the other sensors).
        slot.last_start = (
            due if now - due < interval else math.floor(now / interval) * interval
        )
        return 0.0

    def _read(self, slot: _Slot) -> Rows:
        """Read the slot's sensor once, stamped with the read's start; [] on failure."""
        if slot.source is None:
            interval = self._schedules()[slot.spec.name].interval_s
            if not self._open(slot, interval_s=interval):
                return []
        assert slot.source is not None
        time_ns = time.time_ns()
        try:
            return [(time_ns, r.key, float(r.value)) for r in slot.source.read(time_ns)]
        except SensorError as exc:
            self._failed(slot, str(exc))
            return []

    def _store_reads(self, reads: list[tuple[_Slot, Rows]]) -> None:
        """Store one tick's reads durably in one call, then count them per sensor."""
        try:
            self._store([row for _, rows in reads for row in rows])
        except ValueError as exc:
            # The outbox refused a key that breaks the wire contract: store each sensor's
            # readings alone, so only the sensor with the bad key loses its read.
            if len(reads) == 1:
                self._failed(reads[0][0], str(exc))
            else:
                for read in reads:
                    self._store_reads([read])
            return
        for slot, rows in reads:
            slot.sampled += len(rows)

    def _open(self, slot: _Slot, *, interval_s: float) -> bool:
        """Open the slot's driver unless a recent attempt failed; ConfigError only at start."""
        now = time.monotonic()
        if now < slot.reopen_at:
            return False
        try:
            slot.source = create_sensor(slot.spec)
            return True
        except (SensorError, ConfigError) as exc:
            if isinstance(exc, ConfigError) and not self._threads:
                raise
            slot.reopen_at = now + max(interval_s, REOPEN_MIN_S)
            self._failed(slot, str(exc))
            return False

    def _failed(self, slot: _Slot, message: str, *, exc_info: bool = False) -> None:
        """Count a failure; log and report it at most once a minute per sensor."""
        slot.errors += 1
        now = time.monotonic()
        last = slot.reported_at
        if last is not None and now - last < ERROR_REPORT_INTERVAL_S:
            logger.debug("sensor %r: %s", slot.spec.name, message)
            return
        slot.reported_at = now
        logger.warning(
            "sensor %r: %s (%d errors so far; reported at most once a minute)",
            slot.spec.name,
            message,
            slot.errors,
            exc_info=exc_info,
        )
        self._report(f"sensor {slot.spec.name!r}: {message}")
