"""The lab's services die with the process that started them, in order, however it died.

The starting process (`livinglab demo`, `livinglab chaos`) writes a pid record, a JSON file
naming every service it started in stop order (stage 0 first), and starts this watchdog with a
pipe on its stdin whose only write end the starter holds. The watchdog blocks reading the pipe;
the kernel closes the write end when the starter exits for any reason, SIGKILL included, and the
watchdog then stops what the record still names: stage by stage, each with its own signal,
waiting up to `STAGE_TIMEOUT_S` before SIGKILL. A starter that stops its services itself leaves
an empty record, and the watchdog has nothing to do.

Why not `prctl(PR_SET_PDEATHSIG)`: Mosquitto and PostgreSQL change their user id when started as
root, which clears that setting (prctl(2): "cleared upon changes to ... effective user ID"),
pg_ctl detaches PostgreSQL from its parent anyway, and a parent-death signal cannot keep an order.

Each pid is recorded with its start time (field 22 of /proc/PID/stat), so a pid reused by an
unrelated process after ours exited is never signalled. The record is changed from more than one
thread (the crash matrix's supervisor starts the ingest again while the main thread starts
agents): each change and its write happen under one lock, or two writers would share the temporary
file and the last rename could put back a record without the other's process.

A record is written just after a start, so a starter killed between a child's start and its
record (or while a broker it started waits for its port) would leave that child unnamed. A
starter that calls `tag_children(record)` puts `TAG=<record>` into the environment every child
inherits (and their children: pg_ctl's server, runuser's command); after the recorded stages the
watchdog stops any process still carrying its record's tag, the same way (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "STAGE_TIMEOUT_S",
    "TAG",
    "PidRecord",
    "Service",
    "alive",
    "start_watchdog",
    "tag_children",
    "tagged",
]

STAGE_TIMEOUT_S = 20.0
POLL_S = 0.1
# Not LIVINGLAB_: the platform's settings are read from those, and the ingest is started without
# the starter's.
TAG = "LAB_WATCHDOG_RECORD"


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot; None when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command: field 3 (state) is fields[0], field 22 (starttime) is fields[19].
    if fields[0] == "Z":
        return None
    return int(fields[19])


@dataclass(frozen=True)
class Service:
    """One recorded process: stopped in `stage` (0 first) with `signum`.

    A service recorded by `pidfile` (PostgreSQL's postmaster.pid) has its pid read from the file
    when it is stopped; `pid` and `start` are 0.
    """

    name: str
    pid: int
    start: int
    stage: int
    signum: int
    pidfile: str | None = None

    def resolve(self) -> Service:
        """This service with the pid its pid file names now (itself if it has no pid file)."""
        if self.pidfile is None:
            return self
        try:
            pid = int(Path(self.pidfile).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return self
        return Service(self.name, pid, _start_time(pid) or 0, self.stage, self.signum)

    @property
    def running(self) -> bool:
        return self.pid > 0 and _start_time(self.pid) == self.start


def alive(services: list[Service]) -> list[Service]:
    """Those of `services` still running (the same process, not a reused pid)."""
    return [service for service in services if service.running]


class PidRecord:
    """The record of a lab's running services, rewritten atomically at every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.services: dict[str, Service] = {}
        self._lock = threading.Lock()
        with self._lock:
            self._write()

    def add(
        self, name: str, pid: int, *, stage: int, signum: int = signal.SIGTERM
    ) -> None:
        """Record `pid` as service `name`; a pid already gone is not recorded."""
        start = _start_time(pid)
        if start is None:
            return
        with self._lock:
            self.services[name] = Service(name, pid, start, stage, int(signum))
            self._write()

    def add_pidfile(
        self, name: str, pidfile: Path, *, stage: int, signum: int = signal.SIGINT
    ) -> None:
        """Record service `name` by the pid file it will write (SIGINT: PostgreSQL's fast stop)."""
        with self._lock:
            self.services[name] = Service(name, 0, 0, stage, int(signum), str(pidfile))
            self._write()

    def remove(self, name: str) -> None:
        with self._lock:
            if self.services.pop(name, None) is not None:
                self._write()

    def _write(self) -> None:
        """Replace the file with the services now recorded; the caller holds `_lock`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".new")
        services = [asdict(service) for service in self.services.values()]
        temporary.write_text(json.dumps({"services": services}))
        temporary.replace(self.path)


def read_record(path: Path) -> list[Service]:
    """The services a record names; none when it is missing or unreadable."""
    try:
        document = json.loads(path.read_text())
        return [Service(**entry) for entry in document["services"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def stop_in_order(
    services: list[Service], *, timeout_s: float = STAGE_TIMEOUT_S
) -> None:
    """Stop the running `services` stage by stage; SIGKILL what outlives a stage's timeout."""
    services = [service.resolve() for service in services]
    for stage in sorted({service.stage for service in services}):
        group = alive([s for s in services if s.stage == stage])
        for service in group:
            with contextlib.suppress(OSError):
                os.kill(service.pid, service.signum)
        deadline = time.monotonic() + timeout_s
        while alive(group) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        for service in alive(group):
            with contextlib.suppress(OSError):
                os.kill(service.pid, signal.SIGKILL)


def tag_children(record: Path) -> None:
    """Every child this process starts from now on carries `record`'s tag (the module's doc)."""
    os.environ[TAG] = str(record)


def tagged(record: Path, *, exclude: set[int]) -> list[Service]:
    """The live processes, `exclude` apart, whose environment carries `record`'s tag."""
    needle = f"{TAG}={record}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in exclude:
            continue
        try:
            environment = (proc / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        start = _start_time(int(proc.name))
        if needle in environment and start is not None:
            found.append(Service(TAG, int(proc.name), start, 0, signal.SIGTERM))
    return found


def start_watchdog(record: Path) -> subprocess.Popen[bytes]:
    """Start the watchdog of `record`; it acts when the returned process's stdin closes.

    Keep the returned object (its stdin is the pipe's write end) for as long as the services run.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "livinglab_lab.watchdog", str(record)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own session: Ctrl-C and a closing terminal reach the starter, never the watchdog.
        start_new_session=True,
    )


def main() -> None:
    """`python -m livinglab_lab.watchdog RECORD`: wait for EOF on stdin, then stop RECORD's services."""
    record = Path(sys.argv[1])
    # The starter: its own environment may carry the tag, and it may still be running.
    exclude = {os.getpid(), os.getppid()}
    while sys.stdin.buffer.read(4096):
        pass
    stop_in_order(read_record(record))
    stop_in_order(tagged(record, exclude=exclude))


if __name__ == "__main__":
    main()
