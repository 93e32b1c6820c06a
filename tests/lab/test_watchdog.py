"""The watchdog stops what its starter left running: the processes its record names and those
that carry the record's tag but were never recorded (a starter killed between a child's start and
its record)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from livinglab_lab.watchdog import TAG, PidRecord, start_watchdog

SLEEP = ["sleep", "300"]


def _gone(process: subprocess.Popen[bytes]) -> bool:
    try:
        return process.wait(timeout=30) is not None
    except subprocess.TimeoutExpired:
        return False


def test_the_recorded_and_the_tagged_are_stopped_the_others_left(tmp_path: Path):
    # Failed before: the tagged process that was never recorded was still running.
    record = PidRecord(tmp_path / "pids.json")
    watchdog = start_watchdog(record.path)
    tagged_env = {**os.environ, TAG: str(record.path)}
    other_env = {**os.environ, TAG: str(tmp_path / "another-lab" / "pids.json")}
    recorded = subprocess.Popen(SLEEP)
    unrecorded = subprocess.Popen(SLEEP, env=tagged_env)
    untagged = subprocess.Popen(SLEEP, env=other_env)
    try:
        record.add("recorded", recorded.pid, stage=0)
        time.sleep(0.2)  # exec'd: /proc/PID/environ is the new program's
        assert watchdog.stdin is not None
        watchdog.stdin.close()
        watchdog.wait(timeout=60)
        assert _gone(recorded)
        assert _gone(unrecorded)
        assert untagged.poll() is None
    finally:
        for process in (recorded, unrecorded, untagged):
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGKILL)
            process.wait()
