"""The agent: sensors -> outbox -> uplink, with heartbeats, remote configuration and events.

Threads: one per configured sensor samples it on its own interval and writes the readings to the
outbox before anything else; one uplink loop seals batches, feeds the uplink's publish window,
sends the heartbeat and events, and applies remote configuration. paho runs its own network
thread inside `Uplink`.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Sequence
from types import FrameType
from typing import Any

from livinglab_edge_agent import __version__
from livinglab_edge_agent.clock import ClockReader, read_clock_state
from livinglab_edge_agent.config import AgentConfig
from livinglab_edge_agent.errors import OutboxError, PublishError
from livinglab_edge_agent.outbox import Outbox
from livinglab_edge_agent.remote import ConfigRejected, Settings, apply_desired
from livinglab_edge_agent.sampling import Sampler
from livinglab_edge_agent.sensors import SensorSource
from livinglab_edge_agent.threadnames import name_current_thread
from livinglab_edge_agent.uplink import Refusal, Uplink
from livinglab_edge_agent.wire import MAX_EVENT_MESSAGE_CHARS, Event, Status, clip

__all__ = ["Agent"]

logger = logging.getLogger(__name__)

LOOP_TICK_S = 0.05
# The uplink loop sleeps until its next timed duty (a heartbeat, a batch's age limit, the end of a
# refusal's back-off, a receipt's timeout), but at least LOOP_TICK_S; full batches, a reading that
# starts a new partial batch (its age limit), PUBACKs that leave a batch to send, receipts, configs
# and events wake it early. LOOP_MAX_WAIT_S is only a safety net: each wake-up costs as much CPU
# as several readings, so the loop does not poll.
LOOP_MAX_WAIT_S = 5.0
# How long the first sampling thread of a tick waits for the others before the outbox commits.
GATHER_S = 0.005
LOOP_ERROR_PAUSE_S = 1.0
SENSOR_STOP_TIMEOUT_S = 10.0
FINAL_STATUS_TIMEOUT_S = 2.0
MAX_QUEUED_EVENTS = 1000
# With Mosquitto dropping the connection after each refusal, refusals come in bursts.
REFUSAL_REPORT_INTERVAL_S = 60.0


class Agent:
    """The edge agent of one device; `run()` blocks, or `start()` and later `stop()`."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        clock: ClockReader = read_clock_state,
        sensors: Sequence[SensorSource] | None = None,
    ) -> None:
        """Prepare the agent; nothing is opened or started until `start()`.

        Args:
            clock: returns the clock state stamped on each batch and heartbeat.
            sensors: ready-made sources instead of the configured drivers, matched to the
                configuration's `[[sensors]]` entries by name (which give their schedules).
        """
        self.config = config
        self.outbox: Outbox | None = None
        self.uplink: Uplink | None = None
        self._clock = clock
        self._settings = Settings.from_config(config)
        self.sampler = Sampler(
            config.sensors,
            schedules=lambda: self._settings.sensors,
            store=self._store,
            report=lambda message: self._emit("error", message=message),
            sources=sensors or (),
        )
        # Guards the settings, the events and the count of purged readings not yet reported.
        self._lock = threading.Lock()
        self._purged_unreported = 0
        self._events: deque[Event] = deque()
        self._last_config_payload: bytes | None = None
        self._refusals: list[Refusal] = []
        self._refusals_reported_at: float | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._next_heartbeat = 0.0
        self._seen_connections = 0
        self._state = "new"

    # --- state for callers and tests -------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The sampling and batching settings in effect."""
        return self._settings

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def config_revision(self) -> int | None:
        """The revision of the remote configuration in effect; None before the first."""
        return self._settings.revision

    def status(self, *, state: str = "online") -> Status:
        """The heartbeat document as of now."""
        assert self.outbox is not None, "the agent is not started"
        stats = self.outbox.stats()
        clock = self._clock()
        return Status(
            state=state,
            time_ns=time.time_ns(),
            uptime_s=round(time.monotonic() - self._started_at, 3),
            outbox_depth=stats.depth,
            outbox_dropped=stats.dropped,
            readings_sampled=stats.sampled,
            readings_acked=stats.acked,
            agent_version=__version__,
            config_revision=self.config_revision,
            clock_synced=clock.synced,
            clock_offset_ns=clock.offset_ns,
        )

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the outbox and sensors, start connecting and start the loops."""
        if self._state != "new":
            raise RuntimeError("an Agent is started once")
        self._state = "starting"
        path = self.config.outbox.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutboxError(
                f"cannot create the outbox directory {path.parent}: {exc}"
            ) from exc
        self.outbox = Outbox.open(
            path,
            capacity=self.config.outbox.capacity,
            synchronous=self.config.outbox.synchronous,
            # Blocking sensors sample on their own threads, on the same ticks as the shared one
            # (sampling.py), so one tick's reads can share a synced transaction; a lone sampling
            # thread has nobody to wait for.
            gather_s=GATHER_S if self.sampler.writers > 1 else 0.0,
        )
        try:
            self._seal(everything=True)
            self.sampler.open()
            self.uplink = Uplink(self.config, outbox=self.outbox, wake=self._wake)
            self.uplink.start()
        except BaseException:
            self._close()
            self._state = "stopped"
            raise
        self._started_at = time.monotonic()
        self._state = "running"
        self.sampler.start()
        self._thread = threading.Thread(
            target=self._uplink_loop, name="uplink", daemon=True
        )
        self._thread.start()
        stats = self.outbox.stats()
        logger.info(
            "agent %s for device %r started: %d sensors, outbox %s holds %d readings in %d batches",
            __version__,
            self.config.device_id,
            len(self.config.sensors),
            path,
            stats.depth,
            stats.batches,
        )

    def stop(self) -> None:
        """Stop sampling, seal and try to send what is pending, say offline, close. Idempotent."""
        if self._state != "running":
            return
        self._state = "stopping"
        self._stopping.set()
        self._stop_requested.set()
        self._wake.set()
        self.sampler.stop(timeout_s=SENSOR_STOP_TIMEOUT_S)
        if self._thread is not None:
            self._thread.join()
        try:
            self._drain(self.config.uplink.drain_timeout_s)
            self._publish_final_status()
        except Exception:
            logger.exception("stopping: could not send everything")
        finally:
            self._close()
            self._state = "stopped"
            logger.info("agent stopped")

    def request_stop(self) -> None:
        """Make `run()` return (after a graceful stop); safe from any thread or signal handler."""
        self._stop_requested.set()

    def run(self) -> None:
        """Start, block until SIGTERM or SIGINT (or `request_stop`), then stop gracefully."""
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        try:
            self.start()
            # A timeout, so that signal handlers run promptly in the main thread.
            while not self._stop_requested.wait(1.0):
                pass
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        self._stop_requested.set()

    def _close(self) -> None:
        if self.uplink is not None:
            self.uplink.stop()
        self.sampler.close()
        if self.outbox is not None:
            self.outbox.close()

    # --- storing and sealing ---------------------------------------------------------------------

    def _store(self, rows: list[tuple[int, str, float]]) -> None:
        """Write readings to the outbox first; wake the uplink loop when it has something new to
        do: a full batch is pending, readings were purged, or these readings start a new partial
        batch, whose age limit the loop, asleep since its last seal, does not know yet."""
        assert self.outbox is not None
        purged = self.outbox.add(rows)
        if purged:
            with self._lock:
                self._purged_unreported += purged
        pending = self.outbox.pending
        if purged or pending <= len(rows) or pending >= self._settings.batch_size:
            self._wake.set()

    # --- publishing, heartbeat, events --------------------------------------------------

    def _uplink_loop(self) -> None:
        name_current_thread("uplink")
        while not self._stopping.is_set():
            try:
                self._tick()
            except Exception:
                logger.exception("uplink loop failed; continuing")
                self._stopping.wait(LOOP_ERROR_PAUSE_S)
            self._wake.wait(self._next_wait())
            self._wake.clear()

    def _next_wait(self) -> float:
        """Seconds until the loop's next timed duty, within LOOP_TICK_S..LOOP_MAX_WAIT_S."""
        assert self.outbox is not None
        assert self.uplink is not None
        settings = self._settings
        now = time.monotonic()
        wait = min(
            self._next_heartbeat - now,
            self.outbox.seconds_until_due(
                batch_size=settings.batch_size, max_age_s=settings.batch_max_age_s
            ),
            self.uplink.seconds_until_duty(),
        )
        if self._refusals and self._refusals_reported_at is not None:
            wait = min(
                wait, self._refusals_reported_at + REFUSAL_REPORT_INTERVAL_S - now
            )
        return min(max(wait, LOOP_TICK_S), LOOP_MAX_WAIT_S)

    def _tick(self) -> None:
        assert self.uplink is not None
        for payload in self.uplink.take_configs():
            self._handle_config(payload)
        self._seal()
        self._report_refusals()
        try:
            self.uplink.pump()
        except PublishError as exc:
            logger.warning("publishing a batch failed: %s", exc)
        if not self.uplink.connected:
            return
        now = time.monotonic()
        connections = self.uplink.connections
        # At once on each new connection, so the retained "offline" will is replaced.
        due = connections != self._seen_connections or now >= self._next_heartbeat
        if due and self._publish_status(self.status()) is not None:
            self._seen_connections = connections
            self._next_heartbeat = now + self._settings.heartbeat_interval_s
        self._flush_events()

    def _seal(self, *, everything: bool = False) -> None:
        """Seal full batches, and a partial one once the outbox says its oldest reading is old enough."""
        assert self.outbox is not None
        settings = self._settings
        size = settings.batch_size
        while everything or self.outbox.batch_due(
            batch_size=size, max_age_s=settings.batch_max_age_s
        ):
            batch = self.outbox.seal(max_readings=size, clock=self._clock())
            if batch is None or len(batch) < size:
                return  # the partial batch took every pending reading

    def _publish_status(self, status: Status) -> int | None:
        assert self.uplink is not None
        try:
            return self.uplink.publish_status(
                status.model_dump_json(exclude_none=True).encode()
            )
        except PublishError as exc:
            logger.warning("publishing the status failed: %s", exc)
            return None

    def _emit(
        self,
        kind: str,
        *,
        revision: int | None = None,
        message: str | None = None,
        count: int | None = None,
    ) -> None:
        event = Event(
            type=kind,
            time_ns=time.time_ns(),
            revision=revision,
            # A configuration with many sensors or a long error would exceed the contract's bound.
            message=None if message is None else clip(message, MAX_EVENT_MESSAGE_CHARS),
            count=count,
        )
        with self._lock:
            if len(self._events) >= MAX_QUEUED_EVENTS:
                self._events.popleft()
                logger.warning("too many unsent events; dropped the oldest")
            self._events.append(event)
        self._wake.set()

    def _flush_events(self) -> None:
        assert self.uplink is not None
        with self._lock:
            purged, self._purged_unreported = self._purged_unreported, 0
        if purged:
            self._emit("outbox_purged", count=purged)
        while True:
            with self._lock:
                if not self._events:
                    return
                event = self._events.popleft()
            try:
                sent = self.uplink.publish_event(
                    event.model_dump_json(exclude_none=True).encode()
                )
            except PublishError as exc:
                logger.warning("publishing an event failed: %s", exc)
                sent = None
            if sent is None:
                with self._lock:
                    self._events.appendleft(event)
                return

    def _report_refusals(self, *, now: bool = False) -> None:
        """Report refused batches as an error event, at most once a minute unless `now`."""
        assert self.uplink is not None
        self._refusals += self.uplink.take_refusals()
        last = self._refusals_reported_at
        if not self._refusals or (
            not now
            and last is not None
            and time.monotonic() - last < REFUSAL_REPORT_INTERVAL_S
        ):
            return
        self._refusals_reported_at = time.monotonic()
        refusals, self._refusals = self._refusals, []
        seqs = sorted({r.seq for r in refusals})
        reasons = sorted({f"{r.reason} ({r.code})" for r in refusals})
        self._emit(
            "error",
            message=(
                f"broker refused {len(refusals)} publish(es) of {len(seqs)} batch(es), "
                f"seq {seqs[0]}..{seqs[-1]}: {', '.join(reasons)}; "
                "they stay in the outbox and are sent again"
            ),
            count=len(refusals),
        )

    def _drain(self, timeout_s: float) -> None:
        """Seal everything pending and publish for up to `timeout_s`."""
        assert self.outbox is not None
        assert self.uplink is not None
        self._seal(everything=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._report_refusals(now=True)
            if self.uplink.connected:
                self._flush_events()
            if not self.outbox.pending_batches and not self._events:
                break
            try:
                self.uplink.pump()
            except PublishError as exc:
                logger.warning("publishing a batch failed: %s", exc)
            self._wake.wait(LOOP_TICK_S)
            self._wake.clear()
        left = self.outbox.pending_batches
        if left:
            logger.warning(
                "stopping with %d batches unsent; they stay in the outbox for the next start",
                left,
            )

    def _publish_final_status(self) -> None:
        assert self.uplink is not None
        mid = self._publish_status(self.status(state="offline"))
        if mid is not None:
            self.uplink.wait_acknowledged(mid, timeout_s=FINAL_STATUS_TIMEOUT_S)

    # --- remote configuration --------------------------------------------------------------------

    def _handle_config(self, payload: bytes) -> None:
        """Apply a desired configuration from the platform, or reject it with the reason."""
        if payload == self._last_config_payload:
            return  # the retained copy, delivered again after a reconnect
        self._last_config_payload = payload
        if not payload:
            logger.info(
                "the retained configuration was cleared; keeping the current one"
            )
            return
        try:
            settings = apply_desired(self._settings, payload)
        except ConfigRejected as exc:
            logger.warning(
                "rejected configuration revision %s: %s; keeping revision %s",
                exc.revision,
                exc,
                self._settings.revision,
            )
            self._emit("config_rejected", revision=exc.revision, message=str(exc))
            return
        with self._lock:
            self._settings = settings
        self._next_heartbeat = 0.0  # announce the new revision in a heartbeat at once
        self.sampler.wake()
        self._wake.set()
        logger.info(
            "applied configuration revision %s: %s",
            settings.revision,
            settings.describe(),
        )
        self._emit(
            "config_applied", revision=settings.revision, message=settings.describe()
        )
