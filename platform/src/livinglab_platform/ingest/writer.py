"""Store a group of decoded messages in one transaction: ledger, readings, quarantine, status, rollups.

The delivery ledger comes first: inserting (device, seq) with ON CONFLICT DO NOTHING RETURNING tells
which batches are new, so a redelivered batch is dropped in the same transaction that would have
stored it twice. Each ledger row keeps a fingerprint of the batch's readings; a batch whose seq is
already recorded with a different fingerprint is not a redelivery but new readings under a reused
seq (a device whose counter was reset), and goes whole to the quarantine instead of being dropped.
The new batches' good rows go in with one binary COPY, and the rollups (readings', then the ledger's
hours) are merged last, so their row locks are held for the shortest time before the commit. Each
transaction's duration goes to the stats (one float appended per transaction).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from livinglab_platform.core.db import Connection
from livinglab_platform.ingest.consumer import Message
from livinglab_platform.ingest.counts import GroupResult
from livinglab_platform.ingest.decode import (
    Decoded,
    DeviceEvent,
    Rejected,
    StatusUpdate,
    Telemetry,
)
from livinglab_platform.ingest.fingerprint import Fingerprints
from livinglab_platform.ingest.ledger_hours import merge_ledger_hours
from livinglab_platform.ingest.pgcopy import CopyBuffer, copy_readings, index_order
from livinglab_platform.ingest.registry import Device, Registry
from livinglab_platform.ingest.rollup import upsert_rollups
from livinglab_platform.ingest.stats import TransactionTimes
from livinglab_platform.ingest.validate import EPOCH_2000_NS, check_rows

__all__ = ["GroupResult", "Item", "Writer"]

Item = tuple[Message, Decoded]

_INSERT_DELIVERIES = """
INSERT INTO deliveries (device_id, seq, readings, quarantined, clock_synced, received_at, fingerprint)
SELECT * FROM unnest(%s::text[], %s::int8[], %s::int4[], %s::int4[], %s::bool[], %s::timestamptz[],
                     %s::int8[])
ORDER BY 1, 2
ON CONFLICT DO NOTHING
RETURNING device_id, seq
"""
# Only for the batches the insert above skipped: in READ COMMITTED this statement's snapshot sees
# the conflicting rows, also those another writer committed while the insert waited for it.
_SELECT_FINGERPRINTS = """
SELECT device_id, seq, fingerprint FROM deliveries
WHERE (device_id, seq) IN (SELECT * FROM unnest(%s::text[], %s::int8[]))
"""
_INSERT_QUARANTINE = """
INSERT INTO quarantine (received_at, topic, device_id, seq, reason, readings, payload, claimed_seq)
VALUES (%s, %s, %s, %s, %s, %s, %b, %s)
"""
# A heartbeat received before the one stored (handled by another writer first) does not
# overwrite it; fields a status leaves out (the last will has only "state") keep their value.
_UPSERT_STATUS = """
INSERT INTO device_status AS s (device_id, online, last_seen, uptime_s, outbox_depth, outbox_dropped,
                                agent_version, config_revision, clock_synced, clock_offset_ns)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (device_id) DO UPDATE SET
    online = excluded.online,
    last_seen = excluded.last_seen,
    uptime_s = coalesce(excluded.uptime_s, s.uptime_s),
    outbox_depth = coalesce(excluded.outbox_depth, s.outbox_depth),
    outbox_dropped = coalesce(excluded.outbox_dropped, s.outbox_dropped),
    agent_version = coalesce(excluded.agent_version, s.agent_version),
    config_revision = coalesce(excluded.config_revision, s.config_revision),
    clock_synced = coalesce(excluded.clock_synced, s.clock_synced),
    clock_offset_ns = coalesce(excluded.clock_offset_ns, s.clock_offset_ns)
WHERE excluded.last_seen >= s.last_seen
"""
_INSERT_EVENT = """
INSERT INTO device_events (time, device_id, type, revision, count, message) VALUES (%s, %s, %s, %s, %s, %s)
"""


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _device_time(
    time_ns: int | None, received_at: float, max_future_s: float
) -> datetime:
    """The device's own time when it is plausible, else when the message was received."""
    if (
        time_ns is not None
        and EPOCH_2000_NS <= time_ns <= (received_at + max_future_s) * 1e9
    ):
        return datetime.fromtimestamp(time_ns // 1000 / 1e6, UTC)
    return _utc(received_at)


def _record_deliveries(
    conn: Connection,
    accepted: list[tuple[Message, Telemetry, npt.NDArray[np.int32]]],
    *,
    stored: npt.NDArray[np.int64],
    bad: npt.NDArray[np.int64],
    fingerprint: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """Write the batches into the ledger; True for each batch the ledger did not have yet."""
    inserted = conn.execute(
        _INSERT_DELIVERIES,
        (
            [t.device_id for _, t, _ in accepted],
            [t.batch.seq for _, t, _ in accepted],
            stored.tolist(),
            bad.tolist(),
            [t.batch.clock.synced for _, t, _ in accepted],
            [_utc(m.received_at) for m, _, _ in accepted],
            fingerprint.tolist(),
        ),
    ).fetchall()
    new_keys = {(str(d), int(s)) for d, s in inserted}
    return np.array(
        [(t.device_id, t.batch.seq) in new_keys for _, t, _ in accepted], dtype=bool
    )


def _reused_seq(device_id: str, seq: int) -> str:
    return (
        f"seq {seq} of device {device_id!r} was already stored with different readings: "
        "the device's sequence counter was reset or reused; its readings were not stored"
    )


@dataclass
class _Quarantine:
    rows: list[tuple[Any, ...]]

    def add(
        self,
        message: Message,
        *,
        device_id: str | None,
        seq: int | None,
        reason: str,
        readings: int | None,
        claimed_seq: int | None = None,
    ) -> None:
        self.rows.append(
            (
                _utc(message.received_at),
                message.topic,
                device_id,
                seq,
                reason,
                readings,
                message.payload,
                claimed_seq,
            )
        )


class Writer:
    """Writes groups of messages through a connection the caller owns (one writer per thread)."""

    def __init__(
        self,
        *,
        registry: Registry,
        max_future_s: float,
        transaction_times: TransactionTimes | None = None,
    ) -> None:
        self._registry = registry
        self._max_future_s = max_future_s
        self._transaction_times = transaction_times
        # The ledger entries of the current transaction's new batches, for their hours.
        self._new_ledger: dict[str, list[Any]] = {}
        self._buffer = CopyBuffer()
        self._fingerprints = Fingerprints()
        # (device, seq) of the telemetry in the ledger once the current transaction commits, and
        # of the transactions committed since the last `take_committed`: what receipts name.
        self._group_seqs: dict[str, list[int]] = {}
        self._committed: dict[str, list[int]] = {}

    def write(self, conn: Connection, items: Sequence[Item]) -> GroupResult:
        """Store `items` in one transaction; database errors propagate after the rollback."""
        self._group_seqs = {}
        self._new_ledger = {}
        started = time.perf_counter()
        with conn.transaction():
            result = self._write(conn, items)
        if self._transaction_times is not None:
            self._transaction_times.add((time.perf_counter() - started) * 1000)
        for device_id, seqs in self._group_seqs.items():
            self._committed.setdefault(device_id, []).extend(seqs)
        return result

    def take_committed(self) -> dict[str, list[int]]:
        """The seqs per device committed since the last call: new batches, duplicates, reused seqs."""
        committed, self._committed = self._committed, {}
        return committed

    def quarantine(self, conn: Connection, item: Item, reason: str) -> GroupResult:
        """Put one message whole into the quarantine (after the database refused to store it)."""
        message, decoded = item
        device_id = getattr(decoded, "device_id", None)
        seq = (
            decoded.batch.seq
            if isinstance(decoded, Telemetry)
            else getattr(decoded, "seq", None)
        )
        readings = decoded.rows if isinstance(decoded, Telemetry) else None
        quarantine = _Quarantine([])
        quarantine.add(
            message, device_id=device_id, seq=seq, reason=reason, readings=readings
        )
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(_INSERT_QUARANTINE, quarantine.rows)
        return GroupResult(quarantined=1, quarantined_readings=readings or 0)

    def _write(self, conn: Connection, items: Sequence[Item]) -> GroupResult:
        result = GroupResult()
        quarantine = _Quarantine([])
        telemetry: list[tuple[Message, Telemetry]] = []
        statuses: list[tuple[Message, StatusUpdate]] = []
        events: list[tuple[Message, DeviceEvent]] = []
        wanted: dict[str, set[str]] = {}
        for message, decoded in items:
            if isinstance(decoded, Rejected):
                quarantine.add(
                    message,
                    device_id=decoded.device_id,
                    seq=decoded.seq,
                    reason=decoded.reason,
                    readings=None,
                    claimed_seq=decoded.claimed_seq,
                )
                continue
            keys = wanted.setdefault(decoded.device_id, set())
            if isinstance(decoded, Telemetry):
                keys.update(decoded.batch.sensors)
                telemetry.append((message, decoded))
            elif isinstance(decoded, StatusUpdate):
                statuses.append((message, decoded))
            else:
                events.append((message, decoded))
        devices = self._registry.lookup(conn, wanted) if wanted else {}

        accepted: list[tuple[Message, Telemetry, npt.NDArray[np.int32]]] = []
        # A second message with a (device, seq) of this group: a re-sent copy, or other readings.
        repeats: list[tuple[Message, Telemetry]] = []
        first: set[tuple[str, int]] = set()
        for message, t in telemetry:
            device = devices.get(t.device_id)
            if device is None or not device.enabled:
                why = (
                    "is not registered in the platform"
                    if device is None
                    else "is disabled"
                )
                quarantine.add(
                    message,
                    device_id=t.device_id,
                    seq=t.batch.seq,
                    reason=f"device {t.device_id!r} {why}",
                    readings=t.rows,
                )
            elif (key := (t.device_id, t.batch.seq)) in first:
                repeats.append((message, t))
            else:
                first.add(key)
                self._group_seqs.setdefault(t.device_id, []).append(t.batch.seq)
                accepted.append((message, t, device.sensor_ids(t.batch.sensors)))
        rows = (
            self._store_batches(conn, accepted, repeats, quarantine, result)
            if accepted
            else None
        )

        status_rows = self._status_rows(statuses, devices, quarantine)
        event_rows = self._event_rows(events, devices, quarantine)
        with conn.cursor() as cur:
            if status_rows:
                cur.executemany(_UPSERT_STATUS, status_rows)
            if event_rows:
                cur.executemany(_INSERT_EVENT, event_rows)
            if quarantine.rows:
                cur.executemany(_INSERT_QUARANTINE, quarantine.rows)
        result.statuses += len(status_rows)
        result.events += len(event_rows)
        result.quarantined += len(quarantine.rows)
        result.quarantined_readings += sum(row[5] or 0 for row in quarantine.rows)

        if rows is not None and len(rows[0]):
            upsert_rollups(
                conn, time_us=rows[0], sensor_id=rows[1], value=rows[2], grouped=True
            )
        if self._new_ledger:
            merge_ledger_hours(conn, **self._new_ledger)
        return result

    def _status_rows(
        self,
        statuses: list[tuple[Message, StatusUpdate]],
        devices: Mapping[str, Device],
        quarantine: _Quarantine,
    ) -> list[tuple[Any, ...]]:
        """device_status rows, by device id (the order in which they are locked)."""
        rows = []
        for message, s in sorted(statuses, key=lambda pair: pair[1].device_id):
            if s.device_id not in devices:
                reason = f"status of unregistered device {s.device_id!r}"
                quarantine.add(
                    message,
                    device_id=s.device_id,
                    seq=None,
                    reason=reason,
                    readings=None,
                )
                continue
            st = s.status
            # last_seen is when the platform heard it: a device clock may be off, and the
            # ordering guard of the upsert must compare times from one clock.
            rows.append(
                (s.device_id, st.state == "online", _utc(message.received_at), st.uptime_s, st.outbox_depth,
                 st.outbox_dropped, st.agent_version, st.config_revision, st.clock_synced, st.clock_offset_ns)
            )  # fmt: skip
        return rows

    def _event_rows(
        self,
        events: list[tuple[Message, DeviceEvent]],
        devices: Mapping[str, Device],
        quarantine: _Quarantine,
    ) -> list[tuple[Any, ...]]:
        rows = []
        for message, e in events:
            if e.device_id not in devices:
                reason = f"event of unregistered device {e.device_id!r}"
                quarantine.add(
                    message,
                    device_id=e.device_id,
                    seq=None,
                    reason=reason,
                    readings=None,
                )
                continue
            ev = e.event
            when = _device_time(ev.time_ns, message.received_at, self._max_future_s)
            rows.append((when, e.device_id, ev.type, ev.revision, ev.count, ev.message))
        return rows

    def _compare_fingerprints(
        self,
        conn: Connection,
        accepted: list[tuple[Message, Telemetry, npt.NDArray[np.int32]]],
        repeats: list[tuple[Message, Telemetry]],
        new: npt.NDArray[np.bool_],
        fingerprint: npt.NDArray[np.int64],
        quarantine: _Quarantine,
        result: GroupResult,
    ) -> None:
        """Duplicates or reused seqs: the batches already in the ledger, and the group's repeats.

        A batch is a duplicate when its fingerprint equals the one stored for its (device, seq), or
        none is stored (ledger rows older than fingerprints); else it goes whole to the quarantine.
        """
        seen = np.flatnonzero(~new).tolist()
        stored: dict[tuple[str, int], int | None] = {}
        if seen:
            for device_id, seq, stored_fingerprint in conn.execute(
                _SELECT_FINGERPRINTS,
                (
                    [accepted[i][1].device_id for i in seen],
                    [accepted[i][1].batch.seq for i in seen],
                ),
            ):
                stored[(device_id, seq)] = stored_fingerprint
        if repeats:
            # What the ledger holds once this group commits: the group's own batch where it was new.
            for i in np.flatnonzero(new).tolist():
                t = accepted[i][1]
                stored[(t.device_id, t.batch.seq)] = int(fingerprint[i])

        candidates = [
            (accepted[i][0], accepted[i][1], int(fingerprint[i])) for i in seen
        ]
        for message, t in repeats:
            (own,) = self._fingerprints.compute(
                [t.batch],
                time_ns=t.batch.time_ns,
                sensor=t.batch.sensor,
                value=t.batch.value,
            ).tolist()
            candidates.append((message, t, own))
        for message, t, own in candidates:
            # A row another transaction deleted meanwhile counts as unknown, like NULL.
            known = stored.get((t.device_id, t.batch.seq))
            if known is None or known == own:
                result.duplicates += 1
            else:
                quarantine.add(
                    message,
                    device_id=t.device_id,
                    seq=t.batch.seq,
                    reason=_reused_seq(t.device_id, t.batch.seq),
                    readings=t.rows,
                )

    def _store_batches(
        self,
        conn: Connection,
        accepted: list[tuple[Message, Telemetry, npt.NDArray[np.int32]]],
        repeats: list[tuple[Message, Telemetry]],
        quarantine: _Quarantine,
        result: GroupResult,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
        """Ledger, checks and COPY of the accepted batches; return the rows stored, for the rollups.

        `repeats` are later messages of the group with the (device, seq) of an accepted one. The rows
        come back in index order (sensor, then time descending), grouped as the rollups need them.
        """
        batches = [t.batch for _, t, _ in accepted]
        lengths = np.array([len(b) for b in batches], dtype=np.int64)
        time_ns = np.concatenate([b.time_ns for b in batches])
        value = np.concatenate([b.value for b in batches])
        sensor_index = np.concatenate([b.sensor for b in batches])
        sensor_id = np.concatenate(
            [lut[b.sensor] for (_, _, lut), b in zip(accepted, batches, strict=True)]
        )
        batch_index = np.repeat(np.arange(len(batches)), lengths)
        check = check_rows(
            time_ns=time_ns,
            sensor_id=sensor_id,
            value=value,
            batch_index=batch_index,
            sensor_index=sensor_index,
            sensor_keys=[b.sensors for b in batches],
            now_ns=time.time_ns(),
            max_future_s=self._max_future_s,
        )

        fingerprint = self._fingerprints.compute(
            batches, time_ns=time_ns, sensor=sensor_index, value=value
        )

        new = _record_deliveries(
            conn,
            accepted,
            stored=lengths - check.bad,
            bad=check.bad,
            fingerprint=fingerprint,
        )
        result.batches += int(new.sum())
        fresh = np.flatnonzero(new).tolist()
        self._new_ledger = {
            "device_id": [accepted[i][1].device_id for i in fresh],
            "seq": [accepted[i][1].batch.seq for i in fresh],
            "received_at": [_utc(accepted[i][0].received_at) for i in fresh],
            "readings": (lengths - check.bad)[new].tolist(),
            "quarantined": check.bad[new].tolist(),
        }
        if repeats or not new.all():
            self._compare_fingerprints(
                conn, accepted, repeats, new, fingerprint, quarantine, result
            )

        for b in np.flatnonzero(new & (check.bad > 0)).tolist():
            message, t, _ = accepted[b]
            quarantine.add(
                message,
                device_id=t.device_id,
                seq=t.batch.seq,
                reason=str(check.reasons[b]),
                readings=int(check.bad[b]),
            )

        if new.all() and check.all_good:
            keep_time, keep_sensor, keep_value = time_ns, sensor_id, value
        else:
            keep = check.good & new[batch_index]
            keep_time, keep_sensor, keep_value = (
                time_ns[keep],
                sensor_id[keep],
                value[keep],
            )
        return self._copy(conn, keep_time, keep_sensor, keep_value, result)

    def _copy(
        self,
        conn: Connection,
        time_ns: npt.NDArray[np.int64],
        sensor_id: npt.NDArray[np.int32],
        value: npt.NDArray[np.float64],
        result: GroupResult,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
        """COPY the rows in index order; return them in that order, for the rollups."""
        # Wire times are ns, timestamptz holds µs: floor division truncates toward -inf, the same
        # in the COPY and in the rollup buckets.
        time_us = time_ns // 1000
        if len(time_us):
            order = index_order(time_us, sensor_id)
            time_us, sensor_id, value = time_us[order], sensor_id[order], value[order]
            copy_readings(
                conn,
                time_us=time_us,
                sensor_id=sensor_id,
                value=value,
                buffer=self._buffer,
            )
            result.readings += len(time_us)
            result.newest_us = int(time_us.max())
        return time_us, sensor_id, value
