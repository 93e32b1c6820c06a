"""Row checks over the concatenated columns of a group of batches, with masks, not loops.

A reading is stored when its value is finite, its time lies between 2000-01-01 and `max_future_s`
after now, and its sensor key is registered for the device. The other readings of a batch are
still stored; the batch's bad readings are counted and described in one quarantine reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livinglab_platform.ingest.registry import UNKNOWN_SENSOR

__all__ = ["EPOCH_2000_NS", "RowCheck", "check_rows"]

EPOCH_2000_NS = 946_684_800 * 1_000_000_000
# Names of unknown keys listed in a reason, at most (a hostile batch may carry thousands).
_MAX_KEYS_NAMED = 10


@dataclass(frozen=True)
class RowCheck:
    """The outcome of the checks: which rows are good, and per batch the bad count and reason."""

    good: npt.NDArray[np.bool_]
    bad: npt.NDArray[np.int64]
    reasons: list[str | None]

    @property
    def all_good(self) -> bool:
        return not self.bad.any()


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def check_rows(
    *,
    time_ns: npt.NDArray[np.int64],
    sensor_id: npt.NDArray[np.int32],
    value: npt.NDArray[np.float64],
    batch_index: npt.NDArray[np.intp],
    sensor_index: npt.NDArray[np.uint16],
    sensor_keys: Sequence[tuple[str, ...]],
    now_ns: int,
    max_future_s: float,
) -> RowCheck:
    """Check every row of a group; `batch_index` says which batch (0..len(sensor_keys)-1) a row is in.

    Args:
        sensor_index: each row's index into its batch's `sensor_keys`, to name unknown keys.
    """
    n_batches = len(sensor_keys)
    latest_ns = now_ns + int(max_future_s * 1e9)
    checks = [
        (~np.isfinite(value), "non-finite value", "non-finite values"),
        (
            sensor_id == UNKNOWN_SENSOR,
            "reading with unknown sensor key",
            "readings with unknown sensor keys",
        ),
        (
            time_ns < EPOCH_2000_NS,
            "reading timed before 2000-01-01",
            "readings timed before 2000-01-01",
        ),
        (
            time_ns > latest_ns,
            f"reading timed more than {max_future_s:g} s in the future",
            f"readings timed more than {max_future_s:g} s in the future",
        ),
    ]
    bad_rows = checks[0][0] | checks[1][0] | checks[2][0] | checks[3][0]
    if not bad_rows.any():
        return RowCheck(
            good=~bad_rows,
            bad=np.zeros(n_batches, dtype=np.int64),
            reasons=[None] * n_batches,
        )
    bad = np.bincount(batch_index[bad_rows], minlength=n_batches)
    counts = [
        np.bincount(batch_index[mask], minlength=n_batches) for mask, _, _ in checks
    ]
    reasons: list[str | None] = [None] * n_batches
    # The slow path runs only for batches that have bad rows.
    for b in np.flatnonzero(bad).tolist():
        parts = []
        for (mask, one, many), count in zip(checks, counts, strict=True):
            n = int(count[b])
            if not n:
                continue
            part = _plural(n, one, many)
            if mask is checks[1][0]:
                indices = np.unique(sensor_index[mask & (batch_index == b)]).tolist()
                names = [sensor_keys[b][i] for i in indices[:_MAX_KEYS_NAMED]]
                more = (
                    f" and {len(indices) - _MAX_KEYS_NAMED} more"
                    if len(indices) > _MAX_KEYS_NAMED
                    else ""
                )
                part += " " + ", ".join(repr(k) for k in names) + more
            parts.append(part)
        reasons[b] = "; ".join(parts)
    return RowCheck(good=~bad_rows, bad=bad.astype(np.int64), reasons=reasons)
