"""`livinglab demo --duration 20` runs the whole lab and stores what its agents sent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_run_stores_what_its_agents_sent(tmp_path):
    lab = tmp_path / "lab"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "livinglab_platform",
            "demo",
            "--duration",
            "20",
            "--lab-dir",
            str(lab),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    # Three agents sampling six keys at 10 Hz send about 60 readings a second.
    assert summary["sent"] > 500
    assert summary["stored"] == summary["sent"]
    assert summary["lost"] == 0
    assert summary["duplicated"] == 0
    assert summary["quarantined"] == 0

    # A second run continues on the same lab: registry, outboxes and data are kept.
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "livinglab_platform",
            "demo",
            "--duration",
            "5",
            "--lab-dir",
            str(lab),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    second = json.loads(again.stdout.strip().splitlines()[-1])
    assert second["lost"] == 0
    assert second["duplicated"] == 0
