"""Downloads' own resources: a bounded pool of connections, and a bounded number per person.

The property: a slow or stalled download can never starve other people's requests. An export or
a dossier streams for as long as its client reads, so it never holds a connection of the
requests' pool (that one is back in the pool before any response is sent); it holds one of the
exports' pool instead, and only `per_person` of them per person. A download that would exceed
either bound is refused at once with 429 and Retry-After, never queued behind stalled ones; a
stalled one is cut by the send timeout (`api/limits.py`), which gives its slot back.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Generator, Iterator
from contextlib import ExitStack

from psycopg_pool import ConnectionPool, PoolTimeout

from livinglab_platform.access import Principal
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import BusyError

__all__ = ["EXPORT_WAIT_S", "ExportSlot", "ExportSlots"]

# How long a download waits for a free connection of the exports' pool before it is refused: long
# enough to ride out a download that is just finishing, short enough to hold no thread for long.
EXPORT_WAIT_S = 1.0


class ExportSlots:
    """The exports' pool and who holds how many of its connections; shared by all requests."""

    def __init__(self, pool: ConnectionPool[Connection], *, per_person: int) -> None:
        self.pool = pool
        self.per_person = per_person
        self._lock = threading.Lock()
        self._running: Counter[int | None] = Counter()

    def running(self, person_id: int | None) -> int:
        """How many downloads this person holds now."""
        with self._lock:
            return self._running[person_id]

    def _enter(self, person_id: int | None) -> None:
        with self._lock:
            if self._running[person_id] >= self.per_person:
                raise BusyError(
                    f"you are already downloading {self._running[person_id]} export(s), the"
                    f" most one person may run at once; finish or cancel one, then try again"
                )
            self._running[person_id] += 1

    def _leave(self, person_id: int | None) -> None:
        with self._lock:
            self._running[person_id] -= 1
            if self._running[person_id] <= 0:
                del self._running[person_id]

    def open(self, principal: Principal, stack: ExitStack) -> Connection:
        """A connection for one download of `principal`, released when `stack` closes."""
        self._enter(principal.person_id)
        stack.callback(self._leave, principal.person_id)
        try:
            return stack.enter_context(self.pool.connection(timeout=EXPORT_WAIT_S))
        except PoolTimeout:
            raise BusyError(
                "every export slot is taken by other downloads right now; try again shortly"
            ) from None


class ExportSlot:
    """One request's download: its connection and its body, both ended with the request."""

    def __init__(self, slots: ExportSlots) -> None:
        self._slots = slots
        self._stack = ExitStack()

    def open(self, principal: Principal) -> Connection:
        """Take the download's connection (429 when the person or the pool is at its bound)."""
        return self._slots.open(principal, self._stack)

    def add(self, body: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
        """Have the body closed when the request ends, before its connection is released."""
        self._stack.callback(body.close)
        return body

    def close(self) -> None:
        """Close the body, then give back the connection and the person's slot."""
        self._stack.close()


def slot(slots: ExportSlots) -> Iterator[ExportSlot]:
    """A request's download slot, ended when the response is sent, abandoned or cut."""
    taken = ExportSlot(slots)
    try:
        yield taken
    finally:
        taken.close()
