"""What may stop the demo (and the crash matrix), and how it still stops in order: signals and a
stdout that goes away.

SIGINT (Ctrl-C), SIGTERM (`kill`, systemd, `timeout`) and SIGHUP (a closed terminal) all become
one `Stopped` (a KeyboardInterrupt that names the signal) in the main thread, the first time only:
a second signal while the lab stops must not cut the stop short. The handlers are installed before
any child starts. Within `held_stop()` (a child started and recorded for the watchdog) the signal
waits until the block ends: no stop can fall between a child's start and its record.

A stdout whose reader is gone (`| head -5`, `| tee` stopped with Ctrl-C) raises BrokenPipeError at
the next write, wherever that is. `GuardedStdout` catches it, points file descriptor 1 at
/dev/null (so no later write, nor the interpreter's final flush, fails again) and asks the demo to
stop as if interrupted: nobody is reading anymore. The summary then goes to stderr, and always to
`logs/demo-summary.json`.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TextIO

__all__ = [
    "STOP_SIGNALS",
    "GuardedStdout",
    "Stopped",
    "deferred_stop",
    "held_stop",
    "report_stream",
    "stop_signals",
]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A stop signal was received; `signum` says which (exit status 128 + signum, as a shell's)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Hold:
    """How deep the main thread is in `held_stop()` blocks, and the signal that waits for them."""

    depth = 0
    pending: int | None = None


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    for each in STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    if _Hold.depth:
        _Hold.pending = signum
        return
    raise Stopped(signum)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt once."""
    previous = {signum: signal.signal(signum, _interrupt) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def deferred_stop() -> Iterator[None]:
    """Within the block, stop signals wait (blocked, not lost); they act when it ends.

    For work that must not stop half-way, such as registering a device in the database and the
    broker. Only for blocks that start no process: a child would inherit the blocked signals.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


@contextlib.contextmanager
def held_stop() -> Iterator[None]:
    """Within the block, a stop signal waits and is raised as `Stopped` when the block ends.

    Unlike `deferred_stop`, the signals stay unblocked, so the block may start a child (which
    inherits the signal mask): for starting a process and recording it for the watchdog as one
    step. Python runs signal handlers in the main thread only, so only its blocks count.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _Hold.depth += 1
    try:
        yield
    finally:
        _Hold.depth -= 1
        if not _Hold.depth and _Hold.pending is not None:
            signum, _Hold.pending = _Hold.pending, None
            raise Stopped(signum)


class GuardedStdout(io.TextIOBase):
    """A text stream over `stream` (stdout) that survives its reader going away."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self._stream.write(text)
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                self._break()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                self._break()

    def isatty(self) -> bool:
        return not self.broken and self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    def _break(self) -> None:
        self.broken = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        with contextlib.suppress(OSError):
            os.dup2(devnull, self._stream.fileno())
        os.close(devnull)
        # Through the signal handler: the main thread stops in order, from any thread's write.
        os.kill(os.getpid(), signal.SIGINT)


def report_stream(stdout: GuardedStdout) -> TextIO:
    """Where the summary goes: stdout while someone reads it, stderr once it is gone."""
    return sys.stderr if stdout.broken else sys.stdout
