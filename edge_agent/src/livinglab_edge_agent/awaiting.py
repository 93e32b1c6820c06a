"""Batches the broker acknowledged that still wait for the platform's delivery receipt.

With receipts on, a PUBACK only moves a batch here; it stays in the outbox until a receipt names
it (`Outbox.confirm`). A batch without a receipt `timeout_s` after its PUBACK is sent again, same
seq and bytes, and each further try waits twice as long, up to `BACKOFF_MAX_S`: a broker that
lost acknowledged messages (killed before its autosave) gets them again, and an ingest that is
down for hours is not flooded with copies. After a reconnect every waiting batch is sent again at
once: the device has a clean session, so receipts published while it was away are gone. Only the oldest `window` sealed batches are ever sent
(in flight or waiting here), so a missing receipt slows the device down instead of piling up
copies in the broker.

The uplink holds its lock around every call of an `Awaiting` method (not of `apply_receipt`, which
only uses the outbox and its lock); nothing here touches paho.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

from livinglab_edge_agent.errors import OutboxError
from livinglab_edge_agent.outbox import Outbox
from livinglab_edge_agent.receipt import Receipt, decode_receipt
from livinglab_edge_agent.wire import WireError

__all__ = ["BACKOFF_MAX_S", "Awaiting", "apply_receipt"]

logger = logging.getLogger(__name__)

# The longest wait for a receipt before a re-send, once the doubling reaches it.
BACKOFF_MAX_S = 600.0


class Awaiting:
    """seq -> (when to send again, sends so far) of the batches the broker has acknowledged."""

    def __init__(self, *, timeout_s: float, window: int) -> None:
        self.timeout_s = timeout_s
        self.window = window
        self._due: dict[int, tuple[float, int]] = {}

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, seq: object) -> bool:
        return seq in self._due

    def acknowledged(self, seq: int, *, now: float) -> None:
        """The broker acknowledged a send of `seq`: wait for its receipt, longer each time."""
        _, sends = self._due.get(seq, (0.0, 0))
        wait = min(self.timeout_s * 2**sends, max(self.timeout_s, BACKOFF_MAX_S))
        self._due[seq] = (now + wait, sends + 1)

    def reconnected(self, *, now: float) -> None:
        """A new connection: receipts published while the device was away are lost, and a broker
        that restarted may have lost the batches themselves; send every waiting batch again now."""
        self._due = {seq: (now, sends) for seq, (_, sends) in self._due.items()}

    def confirmed(self, receipt: Receipt) -> None:
        """Forget the batches a receipt names."""
        for seq in [s for s in self._due if receipt.covers(s)]:
            del self._due[seq]

    def release(self, outbox: Outbox) -> None:
        """Back to PUBACK semantics: the broker acknowledged every batch here, so they leave."""
        seqs, self._due = list(self._due), {}
        for seq in seqs:
            try:
                outbox.ack(seq)
            except OutboxError:
                logger.exception("batch seq %d could not be removed", seq)

    def pick(
        self, outbox: Outbox, *, busy: set[int], room: int
    ) -> list[tuple[int, bytes]]:
        """(seq, payload) to send now: new batches of the window, and those overdue a receipt."""
        now = time.monotonic()
        if self.idle(sealed=outbox.pending_batches, busy=len(busy), now=now):
            return []  # no query while everything sent waits for its receipt
        seqs = self.choose(
            outbox.seqs(limit=self.window), busy=busy, room=room, now=now
        )
        resent = sum(1 for seq in seqs if seq in self._due)
        if resent:
            logger.warning(
                "no receipt for %d batch(es) within their timeout; sending them again",
                resent,
            )
        return outbox.payloads(seqs)

    def next_due(self) -> float:
        """The monotonic time the first waiting batch is overdue its receipt (inf if none)."""
        return min((due for due, _ in self._due.values()), default=math.inf)

    def overdue(self, now: float) -> bool:
        return any(due <= now for due, _ in self._due.values())

    def idle(self, *, sealed: int, busy: int, now: float) -> bool:
        """Whether nothing can be sent: every sealed batch (or the window) is busy or waiting."""
        waiting = len(self._due) + busy
        return (waiting >= sealed or waiting >= self.window) and not self.overdue(now)

    def choose(
        self, oldest: Sequence[int], *, busy: set[int], room: int, now: float
    ) -> list[int]:
        """Of the `oldest` sealed seqs (at most `window`, by seq), those to send now.

        Entries for batches no longer in the outbox (confirmed by an earlier receipt while a copy
        was in flight, or purged over capacity) are dropped on the way.
        """
        present = set(oldest)
        horizon = oldest[-1] if len(oldest) >= self.window else None
        for seq in [s for s in self._due if s not in present]:
            if horizon is None or seq < horizon:
                del self._due[seq]
        todo: list[int] = []
        for seq in oldest:
            if len(todo) >= room:
                break
            if seq in busy:
                continue
            entry = self._due.get(seq)
            if entry is None or entry[0] <= now:
                todo.append(seq)
        return todo


def apply_receipt(outbox: Outbox, payload: bytes) -> tuple[Receipt, int] | None:
    """Delete the batches a receipt names from the outbox; (receipt, batches deleted), or None.

    A receipt that does not decode, or whose batches cannot be deleted, is logged and changes
    nothing: the batches stay and are sent again after their timeout.
    """
    try:
        receipt = decode_receipt(payload)
    except WireError as exc:
        logger.warning("ignoring a receipt that does not decode: %s", exc)
        return None
    try:
        confirmed = outbox.confirm(
            low=receipt.low, high=receipt.high, seqs=receipt.seqs
        )
    except OutboxError:
        logger.exception("a receipt's batches could not be removed; kept for now")
        return None
    return receipt, confirmed
