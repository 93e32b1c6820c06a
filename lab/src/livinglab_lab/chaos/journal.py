"""The crash matrix's ground truth: every reading a simulated sensor produced, journaled by the sensor.

The agent under test runs with its configured simulated sensors wrapped in `JournaledSensor`:
each read appends its readings (time_ns, key, value) to a journal file before it returns them to
the agent, one `write(2)` per read on an `O_APPEND` descriptor, so the kernel keeps every line a
SIGKILL of the agent could come after. Nothing on the data path (outbox, broker, ingest, database)
writes or reads a journal, so no failure of the pipeline can make a reading vanish from it.

Each agent process writes its own file (`journal-<pid>.log`). A process killed with SIGKILL may
have journaled a read it had not yet stored in its outbox: that read (the last of each sensor's
thread in that file, its readings all with one time) is `in flight` at the kill, inherently lost
with the process like a reading in a sensor's register at a power cut, and excused, never more
than one read per sensor per kill.

The simulated driver is deterministic (its values are a pure function of seed, kind and time), so
the journal can be checked against a fresh sensor too: `verify_journal` proves the journal says
what the sensor produced.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from livinglab_edge_agent.sensors.base import Reading, SensorKey, SensorSource

__all__ = [
    "QUIET_FILE",
    "Entry",
    "JournaledSensor",
    "read_journal",
    "shift_clock",
]

# While this file exists in the journal directory, the sensors read nothing (the run drains).
QUIET_FILE = "quiet"
# The wall-clock offset (ns) the agent runs with, for clock jumps; read at most this often.
CLOCK_FILE = "clock-offset-ns"
CLOCK_POLL_S = 0.1


@dataclass(frozen=True)
class Entry:
    """One journaled reading: from which file (agent process) and which sensor's thread."""

    journal: str
    sensor: str
    time_ns: int
    key: str
    value: float


class JournaledSensor:
    """A sensor source that journals every reading it returns, before returning it."""

    def __init__(self, source: SensorSource, *, directory: Path) -> None:
        self.name = source.name
        self._source = source
        self._quiet = directory / QUIET_FILE
        path = directory / f"journal-{os.getpid()}.log"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    @property
    def keys(self) -> tuple[SensorKey, ...]:
        return self._source.keys

    def read(self, time_ns: int) -> list[Reading]:
        if self._quiet.exists():
            return []
        readings = self._source.read(time_ns)
        if readings:
            lines = "".join(
                f"{self.name} {time_ns} {r.key} {r.value!r}\n" for r in readings
            )
            os.write(self._fd, lines.encode())
        return readings

    def close(self) -> None:
        self._source.close()
        os.close(self._fd)


def read_journal(directory: Path) -> Iterator[Entry]:
    """Every reading journaled in `directory`, file by file, in the order written.

    A last line cut short (the process died inside the write) is skipped; it cannot have reached
    the outbox, which is written after the journal.
    """
    for path in sorted(directory.glob("journal-*.log")):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 4:
                continue
            try:
                yield Entry(
                    path.name, parts[0], int(parts[1]), parts[2], float(parts[3])
                )
            except ValueError:
                continue


def shift_clock(directory: Path) -> None:
    """Make `time.time_ns` and `time.time` of this process follow `CLOCK_FILE`'s offset.

    A clock jump as an NTP step or an operator's `date -s` makes it: every wall-clock reading of
    the process moves at once; the monotonic clock does not.
    """
    path = directory / CLOCK_FILE
    real_ns = time.time_ns
    state = {"offset": 0, "checked": 0.0}

    def offset() -> int:
        now = time.monotonic()
        if now - state["checked"] >= CLOCK_POLL_S:
            state["checked"] = now
            try:
                state["offset"] = int(path.read_text())
            except (OSError, ValueError):
                state["offset"] = 0
        return int(state["offset"])

    def time_ns() -> int:
        return real_ns() + offset()

    time.time_ns = time_ns
    time.time = lambda: time_ns() / 1e9
