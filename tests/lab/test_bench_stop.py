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

from tests.e2e.processes import alive

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, their children, ...)."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
                parents[int(proc.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return alive(found)


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_benchmark_leaves_nothing_running(tmp_path, signum):
    log = tmp_path / "bench.log"
    with log.open("wb") as output:
        bench = subprocess.Popen(
            [
                sys.executable, "-m", "livinglab_platform", "bench", "agent",
                "--backlog", "1000", "--lab-dir", str(tmp_path / "lab"),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    started: set[int] = set()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        # Wait for the benchmark's own broker and its agent: both servers of the benchmark.
        while not any("livinglab_edge_agent" in _command(p) for p in started):
            assert bench.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the benchmark started no agent"
            time.sleep(0.1)
            started |= _descendants(bench.pid)
        assert any("mosquitto" in _command(p) for p in started), started
        os.kill(bench.pid, signum)
        returncode = bench.wait(STOP_TIMEOUT_S)
        assert returncode != 0, log.read_text()[-3000:]
        deadline = time.monotonic() + 10
        while alive(started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(started), [_command(p) for p in alive(started)]
    finally:
        if bench.poll() is None:
            os.killpg(bench.pid, signal.SIGKILL)
            bench.wait()
        # What a failed stop left behind is no longer below the benchmark: kill it by its pid.
        for pid in alive(started):
            os.kill(pid, signal.SIGKILL)
