"""The benchmarks' precise CPU reader: a live process's run time to the nanosecond, per thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from livinglab_edge_agent.threadnames import name_current_thread
from livinglab_lab.bench.harness import tasks_cpu_s, threads_cpu_ns

_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")

# Burns 50 ms of CPU, says how much (the kernel's own nanosecond count), then waits to be read.
_BURNER = """
import sys, time
start = time.process_time()
while time.process_time() - start < 0.05:
    pass
print(time.process_time_ns(), flush=True)
sys.stdin.read()
"""


@pytest.fixture
def burner():
    with subprocess.Popen(
        [sys.executable, "-c", _BURNER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        yield process  # leaving closes its stdin, which ends it


def test_a_live_process_cpu_is_read_to_the_nanosecond_not_in_clock_ticks(burner):
    burned_ns = int(burner.stdout.readline())

    read_ns = round(tasks_cpu_s(burner.pid) * 1e9)

    # The print and the read of stdin after the count add microseconds, not a 10 ms tick.
    assert burned_ns <= read_ns < burned_ns + 2_000_000
    # /proc/<pid>/stat's utime + stime would be a whole number of ticks.
    assert read_ns % _TICK_NS != 0


def test_cpu_is_split_by_the_threads_native_names():
    ready, done = threading.Event(), threading.Event()

    def spin() -> None:
        name_current_thread("cpu-reader-test")
        ready.set()
        done.wait()

    thread = threading.Thread(target=spin)
    thread.start()
    try:
        ready.wait(5)
        by_thread = threads_cpu_ns(os.getpid())
    finally:
        done.set()
        thread.join()

    assert by_thread["main"] > 0
    assert by_thread["cpu-reader-test"] > 0


def test_a_process_that_is_gone_reads_as_nothing():
    # A pid that cannot be alive: above the kernel's largest.
    assert threads_cpu_ns(2**22 + 1) == {}
    assert tasks_cpu_s(2**22 + 1) == 0.0
