"""The crash matrix's check can fail: a reading missing, doubled, altered or invented is counted.

A journal written by the matrix's own journaled sensor, and rows written into the real database
as a faulty pipeline would have stored them.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import psycopg

from livinglab_edge_agent.sensors.simulated import Simulated
from livinglab_lab.chaos.check import check_agents
from livinglab_lab.chaos.children import Children
from livinglab_lab.chaos.journal import JournaledSensor, read_journal
from livinglab_lab.chaos.lab import ChaosAgent
from livinglab_lab.watchdog import PidRecord

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
START_NS = 1_780_000_000 * 1_000_000_000


def _journal(tmp_path, reads: int) -> ChaosAgent:
    directory = tmp_path / "agent"
    directory.mkdir()
    sensor = JournaledSensor(
        Simulated("air", kind="air", dropout=0.0), directory=directory
    )
    for n in range(reads):
        sensor.read(START_NS + n * 100_000_000 + 123)  # the nanoseconds are truncated
    sensor.close()
    return ChaosAgent(
        "chaos-check", directory, Children(PidRecord(tmp_path / "pids.json"))
    )


def _store(conn, rows) -> None:
    conn.execute("INSERT INTO sites (id, name) VALUES ('chaos', 'Crash matrix')")
    conn.execute("INSERT INTO devices (id, site_id) VALUES ('chaos-check', 'chaos')")
    ids = {}
    for key in ("air_temperature", "relative_humidity", "air_pressure"):
        ids[key] = conn.execute(
            "INSERT INTO sensors (device_id, key, quantity, unit)"
            " VALUES ('chaos-check', %s, %s, 'x') RETURNING id",
            (key, key),
        ).fetchone()[0]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings (time, sensor_id, value) VALUES (%s, %s, %s)",
            [
                (EPOCH + timedelta(microseconds=e.time_ns // 1000), ids[e.key], e.value)
                for e in rows
            ],
        )


def test_a_faithful_pipeline_passes_and_each_fault_is_counted(tmp_path, dsn):
    agent = _journal(tmp_path, reads=10)
    entries = list(read_journal(agent.directory))
    assert len(entries) == 30
    with psycopg.connect(dsn) as conn:
        _store(conn, entries)
        faithful = check_agents(conn, [agent])
        assert (faithful.readings, faithful.stored) == (30, 30)
        assert (faithful.lost, faithful.duplicated, faithful.wrong_values) == (0, 0, 0)

        first, second, third = entries[0], entries[4], entries[8]
        conn.execute(
            "DELETE FROM readings WHERE time = %s AND value = %s",
            (EPOCH + timedelta(microseconds=first.time_ns // 1000), first.value),
        )
        phantom = dataclasses.replace(second, time_ns=START_NS + 3600 * 10**9)
        _store_more(conn, [second, phantom])
        conn.execute(
            "UPDATE readings SET value = value + 1 WHERE time = %s",
            (EPOCH + timedelta(microseconds=third.time_ns // 1000),),
        )
        broken = check_agents(conn, [agent])
    assert broken.lost == 1  # the deleted reading
    assert broken.duplicated == 1  # the reading stored twice
    # The three altered readings of the third read, and the phantom nobody produced.
    assert broken.wrong_values == 4


def _store_more(conn, rows) -> None:
    with conn.cursor() as cur:
        for e in rows:
            cur.execute(
                "INSERT INTO readings (time, sensor_id, value) SELECT %s, id, %s"
                " FROM sensors WHERE device_id = 'chaos-check' AND key = %s",
                (EPOCH + timedelta(microseconds=e.time_ns // 1000), e.value, e.key),
            )


def test_only_the_last_read_of_a_killed_agent_is_excused(tmp_path, dsn):
    agent = _journal(tmp_path, reads=5)
    entries = list(read_journal(agent.directory))
    pid = int(entries[0].journal.removeprefix("journal-").removesuffix(".log"))
    agent.killed_pids.add(pid)
    with psycopg.connect(dsn) as conn:
        # The last read (three readings) never reached the outbox, nor did the first.
        _store(conn, entries[3:-3])
        tally = check_agents(conn, [agent])
    assert tally.in_flight_at_kill == 3
    assert tally.lost == 3
