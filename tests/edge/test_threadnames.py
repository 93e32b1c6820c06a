"""The agent's threads carry their names to the kernel, where `top -H` and /proc show them."""

from __future__ import annotations

import threading
from pathlib import Path

from livinglab_edge_agent.threadnames import name_current_thread


def _kernel_name_after(name: str) -> str:
    seen: list[str] = []

    def run() -> None:
        name_current_thread(name)
        comm = Path(f"/proc/self/task/{threading.get_native_id()}/comm")
        seen.append(comm.read_text().strip())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return seen[0]


def test_a_named_thread_shows_its_name_in_proc():
    assert _kernel_name_after("sensors") == "sensors"


def test_a_long_name_is_cut_to_the_kernels_15_bytes():
    assert _kernel_name_after("sensor-air-station-07") == "sensor-air-stat"
