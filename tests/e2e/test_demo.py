"""`livinglab demo --duration 20` runs the whole lab and stores what its agents sent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _demo(cwd, *, duration_s):
    """Run the demo in `cwd` with a relative lab directory, as `make demo` does; return its summary."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "livinglab_platform",
            "demo",
            "--duration",
            str(duration_s),
            "--lab-dir",
            "lab",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_demo_run_stores_what_its_agents_sent(tmp_path):
    summary = _demo(tmp_path, duration_s=20)
    # Three agents sampling six keys at 10 Hz send about 60 readings a second.
    assert summary["sent"] > 500
    assert summary["stored"] == summary["sent"]
    assert summary["lost"] == 0
    assert summary["duplicated"] == 0
    assert summary["quarantined"] == 0

    # A second run continues on the same lab: registry, outboxes and data are kept.
    second = _demo(tmp_path, duration_s=5)
    assert second["sent"] > 0
    assert second["stored"] == second["sent"]
    assert second["lost"] == 0
    assert second["duplicated"] == 0
