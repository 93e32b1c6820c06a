"""The demo's screen and its log: the screen keeps what a person needs (ports, addresses, tokens,
next steps); the lab's own log records (a migration applied, a seed step) go to a file under
`.lab/logs/`, and only warnings and errors reach the screen as well."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOG_FORMAT", "log_to_file"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def log_to_file(path: Path) -> Iterator[Path]:
    """Send every log record of the process to `path` (INFO and up), and warnings and errors to
    stderr as well, until the block ends; then the handlers from before are back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter(LOG_FORMAT))
    to_screen = logging.StreamHandler(sys.stderr)
    to_screen.setLevel(logging.WARNING)
    to_screen.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.handlers = [to_file, to_screen]
    root.setLevel(logging.INFO)
    try:
        yield path
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        to_file.close()
