"""A stop signal within `held_stop()` waits for the block's end: the crash matrix starts a child
and records it for the watchdog as one step, and no stop falls between the two."""

from __future__ import annotations

import os
import signal

import pytest

from livinglab_lab.demo.stopping import Stopped, held_stop, stop_signals


def _start_and_record(steps: list[str]) -> None:
    """As `Children.popen`: a signal arrives between the start and the record."""
    with held_stop():
        os.kill(os.getpid(), signal.SIGTERM)
        steps.append("started")
        with held_stop():  # nested: the stop waits for the outer block's end
            steps.append("inner")
        steps.append("recorded")
    steps.append("after the block")


def _signalled(steps: list[str]) -> None:
    os.kill(os.getpid(), signal.SIGHUP)
    steps.append("went on")


def test_a_signal_within_held_stop_is_raised_when_the_block_ends():
    steps: list[str] = []
    with stop_signals(), pytest.raises(Stopped) as stopped:
        _start_and_record(steps)
    assert steps == ["started", "inner", "recorded"]
    assert stopped.value.signum == signal.SIGTERM


def test_outside_held_stop_a_signal_stops_at_once_and_names_itself():
    steps: list[str] = []
    with stop_signals(), pytest.raises(KeyboardInterrupt) as stopped:
        _signalled(steps)
    assert steps == []
    assert isinstance(stopped.value, Stopped)
    assert stopped.value.signum == signal.SIGHUP
