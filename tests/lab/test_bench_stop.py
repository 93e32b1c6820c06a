"""A benchmark stopped by SIGTERM (`timeout`, a service manager) stops the servers it started.

Without a handler SIGTERM ends Python at once, past every `finally`: the benchmark's Mosquitto,
PostgreSQL and agents kept running, orphaned. Now it unwinds like Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.processes import alive, users_of

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_benchmark_leaves_nothing_running(tmp_path, signum):
    # Run in `tmp_path` with a relative lab directory: what the benchmark starts works there.
    with (tmp_path / "bench.log").open("wb") as output:
        bench = subprocess.Popen(
            [
                sys.executable, "-m", "livinglab_platform", "bench", "agent",
                "--backlog", "1000", "--lab-dir", "lab",
            ],
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    started: set[int] = set()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        # Wait for the benchmark's own broker and its agent.
        while not (
            any("livinglab_edge_agent" in _command(p) for p in started)
            and any("mosquitto" in _command(p) for p in started)
        ):
            assert bench.poll() is None, (tmp_path / "bench.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"no agent and broker: {started}"
            time.sleep(0.1)
            started = users_of([str(tmp_path)]) - {bench.pid}
        os.kill(bench.pid, signum)
        assert bench.wait(STOP_TIMEOUT_S) != 0
        deadline = time.monotonic() + 10
        while alive(started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(started), [_command(p) for p in alive(started)]
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        # What a failed stop left behind is no longer below the benchmark: kill it by its pid.
        for pid in alive(started):
            os.kill(pid, signal.SIGKILL)
