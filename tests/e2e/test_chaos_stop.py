"""`livinglab chaos` stopped mid-run leaves nothing running: SIGTERM, SIGINT and SIGHUP stop it in
order (a summary saying it was interrupted, the finished runs' results, exit 128 + the signal), and
after a SIGKILL its watchdog stops what it had started.

Each test starts a matrix of its own (one scenario, the ingest SIGKILL, so the supervised ingest is
killed and started again in every run), waits until the first run is done and the second runs, and
stops it. The processes to find afterwards are found two ways: every pid the watchdog's record named
while the matrix ran, and every process working in the test's folder or naming it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from livinglab_lab.watchdog import read_record, tagged
from tests.e2e.processes import alive, users_of

RUNS = 20
MID_RUN_TIMEOUT_S = 180.0
# The ordered stop: the agent drains (2 s), then ingest, broker and database stop.
STOP_BOUND_S = 30.0
# After a SIGKILL the watchdog stops stage by stage (agents, ingest, broker, database).
KILLED_BOUND_S = 60.0
POLL_S = 0.2


def _users_of(folder: Path) -> set[int]:
    """Every live process working in `folder` or naming it: the matrix's children inherit its
    working directory, the servers and the watchdog name the lab's files."""
    return users_of([str(folder)])


@contextlib.contextmanager
def _matrix(home: Path) -> Iterator[subprocess.Popen[str]]:
    """The matrix in `home`, its output in `home/chaos.out`; whatever outlives a failed check is
    killed by pid."""
    with (home / "chaos.out").open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "livinglab_platform", "chaos",
                "--runs", str(RUNS), "--seed", "5", "--seconds", "3", "--agents", "1",
                "--only", "ingest", "--lab-dir", "lab",
            ],
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        for pid in {process.pid} | _users_of(home):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def _recorded(record: Path) -> tuple[set[int], dict[str, int]]:
    """The pids the record names now (PostgreSQL's from its pid file), and the running ones by name."""
    pids, running = set(), {}
    for service in read_record(record):
        resolved = service.resolve()
        if resolved.pid > 0:
            pids.add(resolved.pid)
            if resolved.running:
                running[resolved.name] = resolved.pid
    return pids, running


def _wait_mid_run(
    home: Path, process: subprocess.Popen[str]
) -> tuple[set[int], dict[str, int]]:
    """Wait until run 1 is reported and run 2's agent and the supervised ingest are running;
    return every pid the record named meanwhile, and those running now by name."""
    seen: set[int] = set()
    deadline = time.monotonic() + MID_RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        output = (home / "chaos.out").read_text()
        assert process.poll() is None, output[-5000:]
        pids, running = _recorded(home / "lab" / "pids.json")
        seen |= pids
        second_agent = any(name.startswith("chaos-2-") for name in running)
        if f"run 1/{RUNS} ingest" in output and second_agent and "ingest" in running:
            return seen, running
        time.sleep(POLL_S)
    raise AssertionError((home / "chaos.out").read_text()[-5000:])


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum",
    [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
    ids=["SIGTERM", "SIGINT", "SIGHUP"],
)
def test_a_stop_signal_stops_the_matrix_in_order_and_leaves_nothing_running(
    tmp_path, signum
):
    # Failed before (SIGTERM, SIGHUP): the matrix died at once, exit -15/-1, no word, no result;
    # its agent and ingest were still running after it.
    with _matrix(tmp_path) as process:
        started, _ = _wait_mid_run(tmp_path, process)
        process.send_signal(signum)
        code = process.wait(timeout=STOP_BOUND_S)
        output = (tmp_path / "chaos.out").read_text()
        name = signal.Signals(signum).name
        assert code == 128 + signum, output[-5000:]
        assert f"interrupted by {name}" in output, output[-5000:]
        result = json.loads(output.strip().splitlines()[-1])
        assert result["interrupted"] == name
        # The finished run is kept and checked; the one the signal cut short is not counted.
        assert result["runs"] >= 1
        assert result["scenarios"]["ingest"]["readings"] > 0
        assert result["lost"] == result["duplicated"] == result["wrong_values"] == 0
        saved = json.loads((tmp_path / "lab" / "result.json").read_text())
        assert saved == result
        assert alive(started) == set()
        assert _users_of(tmp_path) == set()


@pytest.mark.slow
def test_a_killed_matrix_leaves_nothing_running(tmp_path):
    # SIGKILL cannot be caught: the watchdog stops what the record names when the pipe closes.
    with _matrix(tmp_path) as process:
        started, running = _wait_mid_run(tmp_path, process)
        # Each carries the record's tag too: what a kill between a start and its record would
        # leave unrecorded, the watchdog finds by it.
        record = tmp_path / "lab" / "pids.json"
        assert set(running.values()) <= {s.pid for s in tagged(record, exclude=set())}
        process.kill()
        process.wait()
        deadline = time.monotonic() + KILLED_BOUND_S
        while (alive(started) or _users_of(tmp_path)) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        assert alive(started) == set()
        assert _users_of(tmp_path) == set()
