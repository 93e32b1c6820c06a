"""Native thread names, so `top -H`, `ps -L` and /proc/<pid>/task/*/comm tell the threads apart.

Python's thread names live only in the interpreter: to the kernel every thread of the agent is
"python3", and an operator looking at a busy Pi cannot see whether sampling, the uplink or the
network loop is spending the CPU. Linux lets a thread rename itself (prctl PR_SET_NAME, at most
15 bytes). Naming is best-effort: on another system, or when libc's prctl cannot be reached, it
does nothing, since it only helps a person read the process.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable

__all__ = ["name_current_thread"]

_PR_SET_NAME = 15
# The kernel's comm field holds 16 bytes with the terminating NUL.
_COMM_BYTES = 15


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def name_current_thread(name: str) -> None:
    """Give the calling thread `name` (cut to 15 bytes) as its kernel name, when possible."""
    prctl = _prctl()
    if prctl is None:
        return
    encoded = name.encode("utf-8", "replace")[:_COMM_BYTES]
    prctl(_PR_SET_NAME, ctypes.c_char_p(encoded), 0, 0, 0)
