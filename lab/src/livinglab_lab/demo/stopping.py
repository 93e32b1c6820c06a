"""What may stop the demo, and how it still stops in order: signals and a stdout that goes away.

SIGINT (Ctrl-C), SIGTERM (`kill`, systemd, `timeout`) and SIGHUP (a closed terminal) all become
one KeyboardInterrupt in the main thread, the first time only: a second signal while the lab
stops must not cut the stop short. The handlers are installed before any child starts.

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
from collections.abc import Iterator
from types import FrameType
from typing import TextIO

__all__ = [
    "STOP_SIGNALS",
    "GuardedStdout",
    "deferred_stop",
    "report_stream",
    "stop_signals",
]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    raise KeyboardInterrupt


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
