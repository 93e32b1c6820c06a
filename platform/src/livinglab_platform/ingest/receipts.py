"""Delivery receipts: after each commit, tell each device which of its seqs the ledger holds.

The ledger (`deliveries`, one row per (device, seq), written in the same transaction as the
batch's readings or quarantine entry) is the truth; this module keeps a small summary of it per
device in memory so that a receipt costs no query: the committed seqs as at most `MAX_RUNS`
disjoint runs. A receipt names the highest run (`from`..`upto`, the device's watermark: in the
usual case of a device counting up without loss, every seq it ever sent) and, besides, each seq
of the commit that lies outside it (after a gap, or re-sent out of order). So every committed
seq is in at least one receipt, and a receipt never names a seq the ledger does not hold.

The summary starts, for each device the process has not seen yet, from the ledger's newest runs
(at most `LOAD_WINDOW` seqs below the highest), read after the commit; forgetting the lowest run
when there are too many, or a restart, only makes receipts longer, never wrong. Several ingest
instances each know the seqs they committed plus what they read at first sight: their receipts
are each true.

The writers record committed seqs; a receipts thread takes them every `RECEIPT_INTERVAL_S` and
publishes one receipt per device for all its commits since the last (a device sending many small
batches gets a receipt per interval, not one per commit: the broker carries at most one receipt
message per device and interval). Receipts are published after COMMIT only, by the ingest's own client (`livinglab.ingest`, whose
role may publish on `livinglab/v1/+/receipts`), at QoS 1 and not retained: a receipt matters only
to a connected device that is waiting for it, and one that was offline re-sends its batches, whose
duplicates are receipted again.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator

from livinglab_edge_agent.receipt import MAX_RECEIPT_SEQS, Receipt
from livinglab_platform.core.db import Connection

__all__ = ["LOAD_WINDOW", "MAX_RUNS", "RECEIPT_INTERVAL_S", "ReceiptBook", "SeqRuns"]

# How often the receipts of recent commits go out: a delay the device does not notice against its
# timeout (30 s), and fewer messages when one device's batches commit in many small groups.
RECEIPT_INTERVAL_S = 0.02

# Runs kept per device: a device that loses batches for good (outbox purged over capacity) leaves
# one gap each time; beyond this many the oldest run is forgotten.
MAX_RUNS = 16
# At first sight of a device, read at most this many seqs below its highest: bounded (a device
# at one batch every 10 s has 3 million ledger rows a year), and enough for any outbox.
LOAD_WINDOW = 100_000

# The ledger's highest runs of one device (islands: consecutive seqs share seq - row_number()).
_LOAD_RUNS = """
SELECT min(seq), max(seq) FROM (
    SELECT seq, seq - row_number() OVER (ORDER BY seq) AS island
    FROM deliveries
    WHERE device_id = %(device)s
      AND seq > (SELECT max(seq) FROM deliveries WHERE device_id = %(device)s) - %(window)s
) s
GROUP BY island ORDER BY max(seq) DESC LIMIT %(runs)s
"""


class SeqRuns:
    """A set of seqs as sorted, disjoint, non-adjacent runs [low, high]; at most `max_runs`."""

    def __init__(self, *, max_runs: int = MAX_RUNS) -> None:
        self._low: list[int] = []
        self._high: list[int] = []
        self._max_runs = max_runs

    def __len__(self) -> int:
        return len(self._low)

    @property
    def runs(self) -> list[tuple[int, int]]:
        return list(zip(self._low, self._high, strict=True))

    @property
    def watermark(self) -> tuple[int, int] | None:
        """The highest run, or None while empty."""
        return (self._low[-1], self._high[-1]) if self._low else None

    def covers(self, seq: int) -> bool:
        i = bisect.bisect_right(self._low, seq) - 1
        return i >= 0 and seq <= self._high[i]

    def add_run(self, low: int, high: int) -> None:
        """Add every seq of low..high (a run read from the ledger), merging what it touches."""
        apart: list[tuple[int, int]] = []
        touching: list[tuple[int, int]] = []
        for lo, hi in self.runs:
            (apart if hi < low - 1 or lo > high + 1 else touching).append((lo, hi))
        merged = (
            min([low, *(lo for lo, _ in touching)]),
            max([high, *(hi for _, hi in touching)]),
        )
        runs = sorted([*apart, merged])
        self._low = [lo for lo, _ in runs]
        self._high = [hi for _, hi in runs]
        self._trim()

    def add(self, seq: int) -> None:
        """Add one committed seq."""
        low, high = self._low, self._high
        i = bisect.bisect_right(low, seq) - 1
        if i >= 0 and seq <= high[i]:
            return
        left = i >= 0 and high[i] == seq - 1
        right = i + 1 < len(low) and low[i + 1] == seq + 1
        if left and right:
            high[i] = high[i + 1]
            del low[i + 1], high[i + 1]
        elif left:
            high[i] = seq
        elif right:
            low[i + 1] = seq
        else:
            low.insert(i + 1, seq)
            high.insert(i + 1, seq)
            self._trim()

    def _trim(self) -> None:
        while len(self._low) > self._max_runs:
            del self._low[0], self._high[0]

    def receipts(self, committed: Iterable[int]) -> Iterator[Receipt]:
        """Receipts for the seqs just `committed` (already added): the watermark and the rest."""
        mark = self.watermark
        if mark is None:
            return
        low, high = mark
        outside = sorted({s for s in committed if not low <= s <= high})
        yield Receipt(low=low, high=high, seqs=tuple(outside[:MAX_RECEIPT_SEQS]))
        for start in range(MAX_RECEIPT_SEQS, len(outside), MAX_RECEIPT_SEQS):
            chunk = outside[start : start + MAX_RECEIPT_SEQS]
            yield Receipt(low=low, high=high, seqs=tuple(chunk))


class ReceiptBook:
    """The per-device summaries of one ingest process, shared by its writer threads."""

    def __init__(
        self, *, max_runs: int = MAX_RUNS, load_window: int = LOAD_WINDOW
    ) -> None:
        self._devices: dict[str, SeqRuns] = {}
        # seqs recorded since the last `take`, per device
        self._pending: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._max_runs = max_runs
        self._load_window = load_window

    def __contains__(self, device_id: object) -> bool:
        with self._lock:
            return device_id in self._devices

    def record(self, conn: Connection, committed: dict[str, list[int]]) -> None:
        """Note seqs that are committed (call after COMMIT), loading unknown devices first.

        `conn` is in autocommit mode (or the caller commits): the loads are plain reads.
        """
        with self._lock:
            unknown = [d for d in committed if d not in self._devices]
        loaded = {device: self._load(conn, device) for device in unknown}
        with self._lock:
            for device, seqs in committed.items():
                runs = self._devices.get(device)
                if runs is None:
                    runs = self._devices[device] = loaded[device]
                for seq in seqs:
                    runs.add(seq)
                self._pending.setdefault(device, []).extend(seqs)

    def take(self) -> list[tuple[str, Receipt]]:
        """The receipts for everything recorded since the last call, one or more per device."""
        with self._lock:
            pending, self._pending = self._pending, {}
            return [
                (device, receipt)
                for device, seqs in pending.items()
                for receipt in self._devices[device].receipts(seqs)
            ]

    def _load(self, conn: Connection, device_id: str) -> SeqRuns:
        runs = SeqRuns(max_runs=self._max_runs)
        rows = conn.execute(
            _LOAD_RUNS,
            {"device": device_id, "window": self._load_window, "runs": self._max_runs},
        ).fetchall()
        for low, high in rows:
            runs.add_run(int(low), int(high))
        return runs
