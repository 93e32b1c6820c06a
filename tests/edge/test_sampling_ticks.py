"""Sampling ticks: short reads share a thread and a transaction, a blocking read delays no one,
and concurrent outbox writes share one synced commit without returning before it."""

from __future__ import annotations

import sqlite3
import threading
import time

from livinglab_edge_agent.outbox import Outbox
from livinglab_edge_agent.remote import Schedule
from livinglab_edge_agent.sampling import Sampler
from livinglab_edge_agent.sensors import Reading, SensorSpec


class Probe:
    """A sensor at its boundary: reads return one value, optionally after a long wait."""

    def __init__(self, name: str, *, key: str, wait_s: float = 0.0) -> None:
        self.name, self.key, self.wait_s = name, key, wait_s
        self.keys = ((key, key, "degC"),)

    def read(self, time_ns: int) -> list[Reading]:
        if self.wait_s:
            time.sleep(self.wait_s)
        return [Reading(self.key, 1.0)]

    def close(self) -> None:
        pass


def _sampler(specs, sources, stored):
    schedules = {s.name: Schedule(enabled=True, interval_s=s.interval_s) for s in specs}
    return Sampler(
        specs,
        schedules=lambda: schedules,
        store=stored.append,
        report=lambda _message: None,
        sources=sources,
    )


def test_short_reads_of_one_tick_are_stored_in_one_call():
    specs = [
        SensorSpec(name=f"air-{i}", driver="simulated", interval_s=0.2)
        for i in range(5)
    ]
    sources = [Probe(f"air-{i}", key=f"k{i}") for i in range(5)]
    stored: list[list[tuple[int, str, float]]] = []
    sampler = _sampler(specs, sources, stored)
    sampler.start()
    time.sleep(1.1)
    sampler.stop(timeout_s=2)

    assert len(stored) >= 4
    # Every call carries one reading of each of the five sensors: one tick, one transaction.
    assert all(
        sorted(key for _, key, _ in call) == [f"k{i}" for i in range(5)]
        for call in stored
    )
    assert sampler.writers == 1


def test_a_blocking_sensor_does_not_delay_the_others():
    specs = [
        SensorSpec(name="slow", driver="sds011", interval_s=0.1),
        SensorSpec(name="fast", driver="simulated", interval_s=0.1),
    ]
    sources = [Probe("slow", key="slow", wait_s=1.5), Probe("fast", key="fast")]
    stored: list[list[tuple[int, str, float]]] = []
    sampler = _sampler(specs, sources, stored)
    sampler.start()
    time.sleep(1.2)
    sampler.stop(timeout_s=3)

    fast = sum(1 for call in stored for _, key, _ in call if key == "fast")
    assert fast >= 8, fast
    assert sampler.writers == 2


def test_concurrent_adds_share_a_commit_and_return_only_once_stored(tmp_path):
    path = tmp_path / "outbox.db"
    with Outbox.open(path, gather_s=0.05) as outbox:
        seen: list[int] = []
        errors: list[BaseException] = []

        def write(i: int) -> None:
            try:
                outbox.add([(time.time_ns(), f"k{i}", float(i))])
                # Returned: the reading must already be committed, visible to another reader.
                with sqlite3.connect(path) as other:
                    rows = other.execute("SELECT keys FROM pending_packed").fetchall()
                seen.append(sum(keys.split("\n").count(f"k{i}") for (keys,) in rows))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert not errors
        assert seen == [1] * 8
        assert outbox.stats().sampled == 8
        # Eight writers in the same moment: far fewer transactions than writers.
        assert outbox.commits < 8


def test_a_bad_key_in_a_shared_tick_loses_only_its_own_sensor(tmp_path):
    specs = [
        SensorSpec(name="good", driver="simulated", interval_s=0.2),
        SensorSpec(name="bad", driver="simulated", interval_s=0.2),
    ]
    sources = [Probe("good", key="good"), Probe("bad", key="bad key!")]
    with Outbox.open(tmp_path / "outbox.db") as outbox:
        schedules = {s.name: Schedule(enabled=True, interval_s=0.2) for s in specs}
        reports: list[str] = []
        sampler = Sampler(
            specs,
            schedules=lambda: schedules,
            store=outbox.add,
            report=reports.append,
            sources=sources,
        )
        sampler.start()
        time.sleep(0.7)
        sampler.stop(timeout_s=2)

        assert sampler.sampled["good"] >= 3
        assert sampler.sampled["bad"] == 0
        assert sampler.errors["bad"] >= 3
        assert any("bad key!" in message for message in reports)
