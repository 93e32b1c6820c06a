"""`livinglab bench dashboards` in its short profile: a device, six hours, every panel timed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from livinglab_platform.cli import app


def test_the_benchmark_times_every_panel_per_range(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "bench", "dashboards", "--devices", "1", "--days", "0.25", "--raw-hours", "1",
            "--repeats", "1", "--lab-dir", str(tmp_path / "lab"),
            "--render-dir", str(tmp_path / "render"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["size"]["sensors"] == 5
    assert summary["size"]["raw_readings"] == 5 * 360
    ranges = {r["range"] for r in summary["results"]}
    assert ranges == {"1h"}
    panels = {(r["dashboard"], r["panel"]) for r in summary["results"]}
    assert ("livinglab-site-device", "Delci PM10") in panels
    assert all(r["p95_ms"] >= r["p50_ms"] > 0 for r in summary["results"])
    assert len(list((tmp_path / "render").glob("livinglab-*.html"))) == 5
