"""Finding the processes a lab left behind, for the tests that stop the demo and the crash matrix."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def alive(pids: set[int]) -> set[int]:
    """The pids still running: not gone, and not zombies (dead, waiting for a parent to reap)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            running.add(pid)
    return running


def users_of(folders: Iterable[str]) -> set[int]:
    """Every live process (but this one) working in one of `folders` or naming one on its command
    line: a lab's children inherit its working directory, its servers name their data folders."""
    folders = list(folders)
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(proc / "cwd")
        except OSError:  # gone meanwhile
            continue
        if any(cwd.startswith(f) or f in cmdline for f in folders):
            found.add(int(proc.name))
    return alive(found)
