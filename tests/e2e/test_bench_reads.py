"""`livinglab bench query` and `bench export` with a short profile: their JSON lines and checks.

Benchmarks, not speed tests: two days of readings mean nothing about speed, so no time is
asserted; what is asserted is the shape of the JSON line and the benchmarks' own checks (the
partner's buckets inside the trial equal the operator's; every export has COPY's rows).
"""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from livinglab_lab.bench.export import run_export_benchmark
from livinglab_lab.bench.harness import prepare_lab_dir
from livinglab_lab.bench.query import ASKERS, INTERVALS, run_query_benchmark


@pytest.fixture
def lab_dir(tmp_path):
    path = tmp_path / "bench"
    yield path
    prepare_lab_dir(path, entries=("pg",))


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.slow
def test_query_benchmark_reports_every_cell_and_partner_equals_operator(
    lab_dir, capsys
):
    result = run_query_benchmark(
        lab_dir=lab_dir,
        days=2,
        sensors=2,
        # Six readings a minute: a viewer's cells need five (LIVINGLAB_VIEWER_MIN_COUNT).
        step_s=10,
        repeat=1,
        console=Console(width=160),
    )
    reported = _last_json(capsys)
    assert reported == result
    assert reported["partner_equals_operator"] is True, reported["errors"]
    assert reported["buckets_compared"] > 0
    assert set(reported["cells"]) == {
        f"1d/{interval}/{asker}" for interval in INTERVALS for asker in ASKERS
    }
    for cell in reported["cells"].values():
        assert {"p50_ms", "p95_ms", "resolution", "points"} <= set(cell)
        assert cell["points"] > 0
    assert {"max_p95_ms", "target_p95_ms", "readings", "transport"} <= set(reported)


@pytest.mark.slow
def test_export_benchmark_reports_ratios_and_every_export_has_copys_rows(
    lab_dir, capsys
):
    result = run_export_benchmark(
        lab_dir=lab_dir, days=2, step_s=30, console=Console(width=160)
    )
    reported = _last_json(capsys)
    assert reported == result
    assert reported["rows_equal"] is True, reported["errors"]
    for key in (
        "ratio_csv_vs_copy",
        "ratio_parquet_vs_copy",
        "ratio_csv_vs_copy_cli",
        "ratio_parquet_vs_copy_cli",
        "first_byte_ms",
        "peak_rss_mb",
    ):
        assert reported[key] > 0, key
    rows = reported["runs"]["2d/copy"]["rows"]
    assert rows == reported["readings"]
    assert {k.split("/", 1)[1] for k in reported["runs"]} == {
        "copy",
        "api/csv",
        "api/parquet",
        "cli/csv",
        "cli/parquet",
    }
