"""`livinglab bench ingest` end to end with tiny numbers: its JSON line, and nothing lost or doubled.

A benchmark, not a speed test: the numbers are too small to mean anything and are not asserted.
What is asserted is how they were measured: two rounds in opposite orders, each from empty
tables, each burst storing all its own readings exactly once.
"""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from livinglab_lab.bench.harness import prepare_lab_dir
from livinglab_lab.bench.ingest import run_ingest_benchmark

KEYS = {
    "readings",
    "readings_per_s",
    "ref_copy_readings_per_s",
    "ratio_vs_ref",
    "ratio_vs_ref_min",
    "ratio_vs_ref_max",
    "ratio_vs_ref_best",
    "ratio_vs_ref_best_min",
    "ratio_vs_ref_best_max",
    "rounds",
    "naive_readings_per_s",
    "speedup_vs_naive",
    "lost",
    "duplicated",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "latency_rate_readings_per_s",
    "latency_batches",
    "latency_readings",
    "burst_latency_p50_ms",
    "burst_latency_p99_ms",
    "devices",
    "batch_size",
}


@pytest.fixture
def lab_dir(tmp_path):
    path = tmp_path / "bench"
    yield path
    # The services' directories may be links into /tmp (lab.py), which tmp_path cleanup misses.
    prepare_lab_dir(path, entries=("pg", "mqtt", "ingest.log"))


@pytest.mark.slow
def test_ingest_benchmark_loses_and_doubles_nothing(lab_dir, capsys):
    result = run_ingest_benchmark(
        lab_dir=lab_dir,
        readings=20_000,
        devices=2,
        batch_size=1_000,
        naive_readings=500,
        rounds=2,
        latency_seconds=2,
        latency_rate=10_000,
        console=Console(width=120),
    )

    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    reported = json.loads(last_line)
    assert reported == result
    assert reported.keys() >= KEYS
    assert reported["readings"] == 20_000
    assert reported["devices"] == 2
    assert reported["batch_size"] == 1_000
    # The paced phase: 10,000 readings/s for 2 s, in batches of 500.
    assert reported["latency_rate_readings_per_s"] == 10_000
    assert reported["latency_batches"] == 40
    assert reported["latency_readings"] == 20_000
    assert 0 < reported["latency_p50_ms"] <= reported["latency_p99_ms"]
    assert reported["latency_p99_ms"] <= reported["latency_max_ms"]
    assert reported["burst_latency_p50_ms"] > 0
    # Over both bursts and the paced phase.
    assert reported["lost"] == 0
    assert reported["duplicated"] == 0
    assert reported["quarantined"] == 0
    assert reported["rollup_1m_readings"] == 2 * 20_000 + 20_000
    assert reported["naive_lost"] == 0
    assert reported["puback_failures"] == 0


@pytest.mark.slow
def test_rounds_are_interleaved_and_independent(lab_dir, capsys):
    result = run_ingest_benchmark(
        lab_dir=lab_dir,
        readings=8_000,
        devices=2,
        batch_size=1_000,
        naive_readings=100,
        rounds=2,
        latency_seconds=0,
        console=Console(width=120),
    )

    first, second = result["rounds"]
    assert first["order"] == ["ref", "ref_best", "pipeline"]
    assert second["order"] == ["pipeline", "ref_best", "ref"]
    for entry in (first, second):
        # Each round's burst, counted over its own devices, stored every reading once and
        # rolled each up once: an earlier round's rows would show as duplicates here.
        assert entry["published"] == 8_000
        assert entry["lost"] == 0
        assert entry["duplicated"] == 0
        assert entry["rollup_1m_readings"] == 8_000
        # Every measurement started from empty tables, bar the burst's chunk row.
        assert entry["rows_at_start"] == {"ref": 0, "ref_best": 0, "pipeline": 1}
    for key in ("ref", "ref_best"):
        ratios = sorted(entry[f"ratio_vs_{key}"] for entry in (first, second))
        assert result[f"ratio_vs_{key}_min"] == ratios[0]
        assert result[f"ratio_vs_{key}_max"] == ratios[1]
        assert ratios[0] <= result[f"ratio_vs_{key}"] <= ratios[1]
    assert result["rollup_1m_readings"] == 16_000
    assert result["latency_batches"] == 0
