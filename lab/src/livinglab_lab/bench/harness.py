"""What both benchmarks stand on: their own services, simulated devices and CPU accounting.

Every process a benchmark starts is registered on a `contextlib.ExitStack` and stopped by its own
pid when the run ends, fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from livinglab_edge_agent.wire import topic
from livinglab_lab.errors import ServiceError
from livinglab_lab.services import Mosquitto, Postgres
from livinglab_platform.core import db
from livinglab_platform.core.dynsec import DynSec, bootstrap
from livinglab_platform.core.identities import INGEST_USER
from livinglab_platform.core.mqtt import create_client

__all__ = [
    "BenchLab",
    "CpuMeter",
    "Message",
    "Publisher",
    "end_session",
    "log_tail",
    "postgres_pids",
    "prepare_lab_dir",
    "process_cpu_s",
    "progress_bar",
    "start_lab",
    "stop_process",
    "tasks_cpu_s",
    "threads_cpu_ns",
]

logger = logging.getLogger(__name__)

# QoS 1 messages a publisher may have unacknowledged, as an agent with a small in-flight window.
WINDOW = 20
CONNECT_TIMEOUT_S = 10.0
# A publisher gives up when no PUBACK arrives for this long.
ACK_TIMEOUT_S = 120.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class BenchLab:
    """The benchmark's own services: Mosquitto bootstrapped, PostgreSQL migrated when asked for."""

    mosquitto: Mosquitto
    ingest_password: str
    postgres: Postgres | None = None
    dsn: str | None = None

    def admin(self) -> DynSec:
        return DynSec(
            host=self.mosquitto.host,
            port=self.mosquitto.port,
            user=self.mosquitto.admin_user,
            password=self.mosquitto.admin_password,
        )


def prepare_lab_dir(lab_dir: Path, *, entries: Sequence[str]) -> Path:
    """Remove what an earlier run left in `lab_dir` (only `entries`), stopping its PostgreSQL."""
    lab_dir.mkdir(parents=True, exist_ok=True)
    for name in entries:
        path = lab_dir / name
        if name == "pg" and (path / "postmaster.pid").exists():
            with contextlib.suppress(ServiceError):
                Postgres.create(path).stop(mode="immediate")
        if path.is_symlink():
            # lab.py links a service directory into /tmp when its user cannot reach lab_dir.
            shutil.rmtree(path.resolve(), ignore_errors=True)
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return lab_dir.resolve()


def start_lab(
    lab_dir: Path, stack: contextlib.ExitStack, *, database: bool
) -> BenchLab:
    """Start Mosquitto (and a durable, migrated PostgreSQL); `stack` stops them by pid."""
    postgres = dsn = None
    if database:
        postgres = Postgres.create(lab_dir / "pg", durable=True)
        # Commit timestamps (pg_xact_commit_timestamp(xmin)) say when each stored row was
        # committed, which is what the benchmark times; the cost is a few bytes per transaction.
        # They are taken just before the commit's WAL flush, so pg_stat_wal times the fsyncs
        # (track_wal_io_timing: two clock readings per WAL write and sync).
        with (postgres.data_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write("track_commit_timestamp = on\ntrack_wal_io_timing = on\n")
        stack.callback(_stop_postgres, postgres)
        postgres.start()
        dsn = postgres.create_database("livinglab")
        db.upgrade(dsn)
    mosquitto = Mosquitto.create(lab_dir / "mqtt")
    stack.callback(mosquitto.stop)
    mosquitto.start()
    lab = BenchLab(
        mosquitto=mosquitto,
        ingest_password=secrets.token_urlsafe(18),
        postgres=postgres,
        dsn=dsn,
    )
    with lab.admin() as dynsec:
        bootstrap(
            dynsec,
            ingest_password=lab.ingest_password,
            platform_password=secrets.token_urlsafe(18),
        )
    return lab


def _stop_postgres(postgres: Postgres) -> None:
    # The data is thrown away with the next run, so skip the shutdown checkpoint.
    try:
        postgres.stop(mode="immediate")
    except ServiceError as exc:
        logger.warning("could not stop the benchmark's PostgreSQL: %s", exc)


def stop_process(process: subprocess.Popen[bytes], *, timeout_s: float) -> int:
    """SIGTERM `process` (by its pid), SIGKILL it after `timeout_s`; return its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            logger.warning(
                "pid %d did not stop in %.0f s; killing it", process.pid, timeout_s
            )
            process.kill()
            process.wait()
    return process.returncode


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process so far, from /proc/<pid>/stat; 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name may hold spaces and parentheses; fields after it are plain.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def threads_cpu_ns(pid: int) -> dict[str, int]:
    """Nanoseconds on CPU of each live thread of a process, summed by kernel thread name.

    The first field of /proc/<pid>/task/<tid>/schedstat is the scheduler's own count of the
    thread's run time in nanoseconds, where /proc/<pid>/stat gives 10 ms ticks: over a 15 s window
    at 300 readings a second one tick is 2 µs per reading, larger than the changes being measured.
    Threads are named by their comm (see livinglab_edge_agent.threadnames); the main thread, whose
    comm is the program's, is "main". A thread that has exited is no longer counted, so take the
    difference of two readings over a window in which the threads live. Empty once the process is
    gone.
    """
    found: dict[str, int] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            run_ns = int((task / "schedstat").read_text().split()[0])
            name = (
                "main" if task.name == str(pid) else (task / "comm").read_text().strip()
            )
        except (OSError, ValueError, IndexError):
            continue  # the thread ended while being read
        found[name] = found.get(name, 0) + run_ns
    return found


def tasks_cpu_s(pid: int) -> float:
    """CPU seconds of a process's live threads, to the nanosecond (`threads_cpu_ns`); 0 once gone."""
    return sum(threads_cpu_ns(pid).values()) / 1e9


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds used by named groups of processes between `start` and `stop`."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self._before: dict[str, dict[int, float]] = {}
        self._wall_s = 0.0
        self.used_s: dict[str, float] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            name: {pid: process_cpu_s(pid) for pid in pids()}
            for name, pids in self._groups.items()
        }

    def start(self) -> None:
        self._before = self._sample()
        self._wall_s = time.perf_counter()

    def stop(self) -> None:
        after = self._sample()
        # A process that started in between counts from zero.
        self.used_s = {
            name: sum(
                cpu - self._before[name].get(pid, 0.0) for pid, cpu in pids.items()
            )
            for name, pids in after.items()
        }
        self.used_s["wall"] = time.perf_counter() - self._wall_s


def postgres_pids(postgres: Postgres) -> Callable[[], list[int]]:
    def pids() -> list[int]:
        pid = postgres.pid
        return [] if pid is None else [pid, *_children(pid)]

    return pids


def log_tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


# --- publishing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One payload to publish; `time_ns` is the wall time it was stamped, just before publishing."""

    key: int
    payload: bytes | bytearray
    readings: int
    time_ns: int


class Publisher:
    """A simulated device: a paho MQTT v5 client publishing QoS 1, at most `window` unacknowledged.

    Every PUBACK's reason code is checked: a v5 broker refuses with a failure code (135 when the
    ACL denies) while paho still reports the message as published.
    """

    def __init__(
        self,
        *,
        device_id: str,
        password: str,
        host: str,
        port: int,
        messages: Iterator[Message],
        window: int = WINDOW,
    ) -> None:
        self.device_id = device_id
        self.failures: list[str] = []
        self.publish_ns: dict[int, int] = {}
        self.published = 0
        self.acked = 0
        self.last_ack_ns = 0
        self._topic = topic(device_id, "telemetry")
        self._messages = messages
        self._window = window
        self._slots = threading.Semaphore(window)
        self._go = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"publish-{device_id}", daemon=True
        )
        self._stopping = False
        connected: queue.Queue[mqtt.ReasonCode] = queue.Queue()
        self._client = create_client(device_id, username=device_id, password=password)
        self._client.max_inflight_messages_set(window)
        self._client.on_connect = lambda _c, _u, _f, code, _p: connected.put(code)
        self._client.on_publish = self._on_publish
        self._client.on_disconnect = self._on_disconnect
        try:
            self._client.connect(host, port, keepalive=60)
        except OSError as exc:
            raise ServiceError(f"{device_id} cannot reach the broker: {exc}") from exc
        self._client.loop_start()
        try:
            code = connected.get(timeout=CONNECT_TIMEOUT_S)
        except queue.Empty as exc:
            self.close()
            raise ServiceError(f"{device_id}: no CONNACK from the broker") from exc
        if code.is_failure:
            self.close()
            raise ServiceError(
                f"{device_id}: the broker refused the connection: {code}"
            )
        self._thread.start()

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: object,
        mid: int,
        code: mqtt.ReasonCode,
        _properties: object,
    ) -> None:
        if code.is_failure:
            self.failures.append(f"{self.device_id}: PUBACK of mid {mid}: {code}")
        self.acked += 1
        self.last_ack_ns = time.time_ns()
        self._slots.release()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: object,
        code: mqtt.ReasonCode,
        _properties: object,
    ) -> None:
        if not self._stopping:
            self.failures.append(f"{self.device_id}: disconnected: {code}")

    def start(self) -> None:
        """Begin publishing (the connection is already up)."""
        self._go.set()

    def _run(self) -> None:
        self._go.wait()
        sent = 0
        while not self._stopping:
            if not self._slots.acquire(timeout=ACK_TIMEOUT_S):
                self.failures.append(
                    f"{self.device_id}: no PUBACK for {ACK_TIMEOUT_S:.0f} s"
                )
                return
            message = next(self._messages, None)
            if message is None:
                self._slots.release()
                break
            info = self._client.publish(self._topic, message.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self.failures.append(
                    f"{self.device_id}: publish failed: {mqtt.error_string(info.rc)}"
                )
                return
            self.publish_ns[message.key] = message.time_ns
            self.published += message.readings
            sent += 1
        # Every slot back means every PUBACK arrived.
        for _ in range(self._window):
            if not self._slots.acquire(timeout=ACK_TIMEOUT_S):
                self.failures.append(
                    f"{self.device_id}: {sent - self.acked} PUBACKs missing"
                )
                return

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait until every message is acknowledged; False on timeout."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()


def end_session(lab: BenchLab, client_id: str) -> None:
    """Discard a persistent session: connect with its client id and clean start, then leave."""
    connected: queue.Queue[mqtt.ReasonCode] = queue.Queue()
    client = create_client(
        client_id, username=INGEST_USER, password=lab.ingest_password
    )
    client.on_connect = lambda _c, _u, _f, code, _p: connected.put(code)
    client.connect(lab.mosquitto.host, lab.mosquitto.port, clean_start=True)
    client.loop_start()
    try:
        connected.get(timeout=CONNECT_TIMEOUT_S)
    finally:
        client.disconnect()
        client.loop_stop()
