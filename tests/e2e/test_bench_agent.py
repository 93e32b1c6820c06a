"""`livinglab bench agent` end to end with tiny numbers: its JSON line, and nothing lost.

A benchmark, not a speed test: the numbers are too small to mean anything and are not asserted.
"""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from livinglab_lab.bench.agent import run_agent_benchmark
from livinglab_lab.bench.harness import prepare_lab_dir

KEYS = {
    "cpu_us_per_reading",
    "rss_mb",
    "drain_readings_per_s",
    "backlog",
    "lost",
    "duplicated",
}


@pytest.fixture
def lab_dir(tmp_path):
    path = tmp_path / "bench-agent"
    yield path
    # The broker's directory may be a link into /tmp (lab.py), which tmp_path cleanup misses.
    prepare_lab_dir(path, entries=("mqtt", "idle", "steady", "fast", "drain"))


@pytest.mark.slow
def test_agent_benchmark_loses_nothing(lab_dir, capsys):
    result = run_agent_benchmark(
        lab_dir=lab_dir,
        backlog=5_000,
        steady_s=8.0,
        # Short phases need heartbeats more often than the bench's 5 s to bound a window.
        heartbeat_interval_s=2.0,
        console=Console(width=120),
    )

    reported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert reported == result
    assert reported.keys() >= KEYS
    assert reported["backlog"] == 5_000
    assert reported["lost"] == 0
    assert reported["duplicated"] == 0
    assert reported["outbox_depth_after"] == 0
    assert reported["steady_lost"] == 0
    assert reported["cpu_us_per_reading"] > 0
    assert reported["rss_mb"] > 0
    # The agent's threads carry native names, so the CPU splits by them.
    assert reported["steady_cpu_ms_per_s_by_thread"].keys() >= {
        "sensors",
        "uplink",
        "mqtt",
        "main",
    }
