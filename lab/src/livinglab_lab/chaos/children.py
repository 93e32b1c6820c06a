"""Every process the crash matrix starts goes through `Children`: started and recorded as one step.

The watchdog (watchdog.py) stops only what the pid record names, so a child started but not yet
recorded would outlive a matrix stopped at that moment. Here a start and its record happen under
`held_stop()` (a stop signal waits until both are done, then stops the matrix as usual) and under
one lock (the ingest's supervisor thread starts children too). Once `close()` has been called, as
the matrix begins its ordered stop, nothing starts any more: a supervisor that saw the ingest exit
must not start it again behind the stop's back.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from livinglab_lab.demo.stopping import held_stop
from livinglab_lab.errors import ServiceError
from livinglab_lab.watchdog import PidRecord

__all__ = ["Children"]


class Children:
    """The matrix's children, each recorded in `record` for the watchdog from its start on."""

    def __init__(self, record: PidRecord) -> None:
        self.record = record
        self._lock = threading.RLock()
        self._closed = False

    def popen(
        self,
        name: str,
        argv: list[str],
        *,
        stage: int,
        log: Path,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` in a session of its own (a Ctrl-C reaches the matrix alone, which stops
        its children in order), output appended to `log`; record it as `name`."""
        with self._starting(name), log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.record.add(name, process.pid, stage=stage)
        return process

    def service(
        self,
        name: str,
        start: Callable[[], None],
        pid: Callable[[], int | None],
        *,
        stage: int,
    ) -> None:
        """Call `start` (a service's own start, which waits until it is ready), then record the
        process `pid` names: also when the start fails with the process running."""
        with self._starting(name):
            try:
                start()
            finally:
                running = pid()
                if running is not None:
                    self.record.add(name, running, stage=stage)

    def by_pidfile(
        self, name: str, pidfile: Path, start: Callable[[], None], *, stage: int
    ) -> None:
        """Record `name` by the pid file it will write, then call `start` (pg_ctl, which
        detaches the server, so the pid is read from the file when it is stopped)."""
        with self._starting(name):
            self.record.add_pidfile(name, pidfile, stage=stage)
            start()

    def forget(self, name: str) -> None:
        """`name` has exited (killed or stopped and waited for): the watchdog has nothing to stop."""
        self.record.remove(name)

    def close(self) -> None:
        """From now on nothing starts: the matrix is stopping."""
        with self._lock:
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    @contextmanager
    def _starting(self, name: str) -> Iterator[None]:
        with held_stop(), self._lock:
            if self._closed:
                raise ServiceError(f"not starting {name}: the crash matrix is stopping")
            yield
