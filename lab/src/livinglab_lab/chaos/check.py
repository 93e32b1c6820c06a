"""Every reading the sensors produced (the journals) against what the database stored.

A reading is matched by (device, key, time to the microsecond: the database keeps microseconds,
and the ingest truncates the nanoseconds the agent stamps). Per run:

- lost: journaled, not stored, and neither in flight at a kill (journal.py), nor purged by the
  outbox over its capacity (counted by the agent in its `dropped` counter, as designed), nor
  quarantined by the ingest with its reason (a clock an hour ahead stamps readings further in
  the future than LIVINGLAB_MAX_FUTURE_S allows: counted in the ledger with a reason in
  `quarantine`, not stored in `readings`);
- duplicated: stored more than once;
- wrong values: stored with another value than the sensor produced, or stored but never produced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from livinglab_lab.chaos.journal import Entry, read_journal
from livinglab_lab.chaos.lab import ChaosAgent

__all__ = ["Tally", "check_agents", "stored_count"]


@dataclass
class Tally:
    """The outcome of one run (or a sum of runs)."""

    readings: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong_values: int = 0
    in_flight_at_kill: int = 0
    purged: int = 0
    quarantined: int = 0

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _in_flight(entries: Sequence[Entry], killed: set[str]) -> set[tuple[str, int]]:
    """(key, us) of the last read of each sensor thread in each journal of a killed process."""
    last: dict[tuple[str, str], int] = {}
    for entry in entries:
        if entry.journal in killed:
            last[(entry.journal, entry.sensor)] = entry.time_ns
    ends = set(last.items())
    return {
        (e.key, e.time_ns // 1000)
        for e in entries
        if ((e.journal, e.sensor), e.time_ns) in ends
    }


def stored_count(conn: psycopg.Connection, device_ids: Sequence[str]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id"
        " WHERE s.device_id = ANY(%s)",
        (list(device_ids),),
    ).fetchone()
    return int(row[0]) if row else 0


def check_agents(conn: psycopg.Connection, agents: Sequence[ChaosAgent]) -> Tally:
    """Compare each agent's journal with the rows of its device."""
    tally = Tally()
    for agent in agents:
        entries = list(read_journal(agent.directory))
        truth = {(e.key, e.time_ns // 1000): e.value for e in entries}
        rows = conn.execute(
            "SELECT s.key, (extract(epoch FROM r.time) * 1000000)::bigint, r.value"
            " FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.device_id = %s",
            (agent.device_id,),
        ).fetchall()
        counts = Counter((key, us) for key, us, _ in rows)
        wrong = sum(1 for key, us, value in rows if truth.get((key, us)) != value)
        missing = [k for k in truth if k not in counts]
        excused = _in_flight(
            entries, {f"journal-{pid}.log" for pid in agent.killed_pids}
        )
        in_flight = sum(1 for k in missing if k in excused)
        _, purged = agent.outbox()
        purged = min(purged, len(missing) - in_flight)
        # Bad readings of a stored batch are counted in its ledger row; a batch refused whole
        # is in `quarantine`.
        row = conn.execute(
            "SELECT (SELECT coalesce(sum(quarantined), 0) FROM deliveries WHERE device_id = %(d)s)"
            " + (SELECT coalesce(sum(q.readings), 0) FROM quarantine q WHERE q.device_id = %(d)s"
            "    AND NOT EXISTS (SELECT 1 FROM deliveries l"
            "                    WHERE l.device_id = q.device_id AND l.seq = q.seq))",
            {"d": agent.device_id},
        ).fetchone()
        quarantined = min(int(row[0]) if row else 0, len(missing) - in_flight - purged)
        tally.add(
            Tally(
                readings=len(truth),
                stored=len(rows),
                lost=len(missing) - in_flight - purged - quarantined,
                duplicated=sum(n - 1 for n in counts.values()),
                wrong_values=wrong,
                in_flight_at_kill=in_flight,
                purged=purged,
                quarantined=quarantined,
            )
        )
    return tally
