"""Whether the system clock is synchronised, read from the Linux kernel with `adjtimex(2)`.

The kernel's NTP state is what chrony, ntpd and systemd-timesyncd all report into, so the agent
needs no daemon-specific client. With `modes = 0` the call only reads, and needs no privilege.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from functools import cache

from livinglab_edge_agent.wire import ClockState

__all__ = ["ClockReader", "clock_state_from_timex", "read_clock_state"]

logger = logging.getLogger(__name__)

ClockReader = Callable[[], ClockState]

# <sys/timex.h>: the return value TIME_ERROR and the status bits used here.
TIME_ERROR = 5
STA_UNSYNC = 0x0040
STA_NANO = 0x2000


class _Timeval(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long))


class _Timex(ctypes.Structure):
    """glibc's `struct timex`; `long` is the word size, as in the kernel ABI it mirrors."""

    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        # The header reserves eleven more ints; extra room is harmless if an ABI differs.
        ("_reserved", ctypes.c_int * 32),
    )


def clock_state_from_timex(*, state: int, status: int, offset: int) -> ClockState:
    """Interpret adjtimex's return value, `status` bits and `offset` (us, or ns with STA_NANO)."""
    if state < 0 or state == TIME_ERROR or status & STA_UNSYNC:
        return ClockState(synced=False)
    offset_ns = offset if status & STA_NANO else offset * 1_000
    return ClockState(synced=True, offset_ns=offset_ns)


@cache
def _adjtimex() -> Callable[..., int]:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    function = libc.adjtimex
    function.argtypes = (ctypes.POINTER(_Timex),)
    function.restype = ctypes.c_int
    return function


def read_clock_state() -> ClockState:
    """The kernel's view of the clock; `ClockState(synced=False)` if it cannot be read."""
    try:
        timex = _Timex()
        state = _adjtimex()(ctypes.byref(timex))
        if state < 0:
            logger.debug("adjtimex failed with errno %d", ctypes.get_errno())
            return ClockState(synced=False)
        return clock_state_from_timex(
            state=state, status=timex.status, offset=timex.offset
        )
    except (OSError, AttributeError, ValueError) as exc:
        # Not Linux, no libc found, or an unexpected ABI: the clock is simply not known to be synced.
        logger.debug("cannot read the clock state: %s", exc)
        return ClockState(synced=False)
