"""`livinglab trials ...`: the approval queue and lifecycle from the terminal, audited as `cli:<user>`."""

from __future__ import annotations

import getpass
import re
from datetime import UTC, datetime

import psycopg
import pytest

from tests.api.world import add_device, make_trial, seed

CLI_USER = f"cli:{getpass.getuser()}"


@pytest.fixture
def world(dsn):
    return seed(dsn)


def _trial_row(dsn, trial_id):
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT state, state_reason, approved_at IS NOT NULL FROM trials WHERE id = %s",
            (trial_id,),
        ).fetchone()


def _last_audit(dsn, trial_id):
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT actor_label, action, reason FROM audit_log"
            " WHERE object_type = 'trial' AND object_id = %s ORDER BY id DESC LIMIT 1",
            (str(trial_id),),
        ).fetchone()


def test_list_filters_by_state_and_show_has_the_audit_trail(livinglab, dsn, world):
    with psycopg.connect(dsn) as conn:
        draft = make_trial(conn, "startup-a")
        submitted = make_trial(conn, "startup-b", state="submitted")
    listed = livinglab("trials", "list").stdout
    assert "2 trial(s)" in listed
    queue = livinglab("trials", "list", "--state", "submitted").stdout
    assert "1 trial(s) submitted" in queue
    assert re.search(rf"│\s+{submitted} │", queue)
    assert not re.search(rf"│\s+{draft} │", queue)

    shown = livinglab("trials", "show", str(submitted)).stdout
    assert f"trial {submitted}: Low-cost PM sensors on a tram stop" in shown
    assert "startup-b" in shown
    assert "R2 >= 0.8 against the reference station" in shown
    assert "approve, reject, withdraw" in shown  # the operator's next actions
    trail = shown[shown.index("audit trail") :]
    assert "cli:tests" in trail
    assert "create" in trail
    assert "submit" in trail


def test_approve_reject_and_any_transition(livinglab, dsn, world):
    with psycopg.connect(dsn) as conn:
        first = make_trial(conn, "startup-a", state="submitted")
        second = make_trial(conn, "startup-a", state="submitted")

    approved = livinglab("trials", "approve", str(first))
    assert "now approved" in approved.stdout
    assert _trial_row(dsn, first) == ("approved", None, True)
    assert _last_audit(dsn, first) == (CLI_USER, "approve", None)

    no_reason = livinglab("trials", "reject", str(second), code=2)
    assert "--reason" in no_reason.output
    livinglab("trials", "reject", str(second), "--reason", "No site permit yet")
    assert _trial_row(dsn, second) == ("rejected", "No site permit yet", False)
    assert _last_audit(dsn, second) == (CLI_USER, "reject", "No site permit yet")

    livinglab("trials", "transition", str(first), "deploy")
    livinglab("trials", "transition", str(first), "start")
    assert _trial_row(dsn, first)[0] == "running"
    assert _last_audit(dsn, first) == (CLI_USER, "start", None)

    wrong = livinglab("trials", "transition", str(first), "approve", code=2)
    assert f"trial {first} is 'running'; approve needs 'submitted'" in wrong.stderr
    bad_action = livinglab("trials", "transition", str(first), "finish", code=2)
    assert "'finish' is not one of" in bad_action.output
    withdraw = livinglab("trials", "transition", str(first), "withdraw", code=2)
    assert "a reason is required to withdraw a trial" in withdraw.stderr


def test_assign_and_grant_read_dates_as_ljubljana_days(livinglab, dsn, world):
    with psycopg.connect(dsn) as conn:
        add_device(conn, "pm-01", "startup-a")
        conn.commit()
        trial = make_trial(conn, "startup-a", state="approved")

    livinglab(
        "trials", "assign", str(trial), "pm-01",
        "--start", "2026-05-01", "--end", "2026-05-02T10:00+02:00",
    )  # fmt: skip
    livinglab(
        "trials", "grant", str(trial), "ul-fe", "--start", "2026-05-01T06:00",
        "--end", "2026-06-01", "--reason", "calibration study",
    )  # fmt: skip
    with psycopg.connect(dsn) as conn:
        assignment = conn.execute(
            "SELECT device_id, starts_at, ends_at FROM trial_devices WHERE trial_id = %s",
            (trial,),
        ).fetchone()
        grant = conn.execute(
            "SELECT organisation_id, starts_at, ends_at, reason FROM grants WHERE trial_id = %s",
            (trial,),
        ).fetchone()
    # A date is a Ljubljana day (CEST in May: UTC+2), the end's included; an offset is exact;
    # a date-time without one is Ljubljana's clock.
    assert assignment == (
        "pm-01",
        datetime(2026, 4, 30, 22, tzinfo=UTC),
        datetime(2026, 5, 2, 8, tzinfo=UTC),
    )
    assert grant == (
        "ul-fe",
        datetime(2026, 5, 1, 4, tzinfo=UTC),
        datetime(2026, 6, 1, 22, tzinfo=UTC),
        "calibration study",
    )
    assert _last_audit(dsn, trial) == (CLI_USER, "grant", "calibration study")
    shown = livinglab("trials", "show", str(trial)).stdout
    assert "pm-01" in shown
    assert "calibration study" in shown
    # Every time shown names its zone: Ljubljana's by default, UTC for machines.
    assert "1 May 2026 00:00 (CEST)" in shown
    assert "2 June 2026 00:00 (CEST)" in shown
    in_utc = livinglab("--utc", "trials", "show", str(trial)).stdout
    assert "30 April 2026 22:00 (UTC)" in in_utc
    assert "(CEST)" not in in_utc

    backwards = livinglab(
        "trials", "assign", str(trial), "pm-01", "--start", "2026-05-02", "--end", "2026-05-01", code=2
    )  # fmt: skip
    assert "ends_at must be after starts_at" in backwards.stderr
    unknown_device = livinglab(
        "trials", "assign", str(trial), "nope", "--start", "2026-05-01", "--end", "2026-05-02", code=2
    )  # fmt: skip
    assert "device 'nope' does not exist" in unknown_device.stderr


def test_an_unknown_trial_is_one_readable_line(livinglab, world):
    for args in (
        ("trials", "show", "999"),
        ("trials", "approve", "999"),
        (
            "trials",
            "grant",
            "999",
            "ul-fe",
            "--start",
            "2026-01-01",
            "--end",
            "2026-02-01",
        ),
    ):
        result = livinglab(*args, code=2)
        assert result.stderr == "error: trial 999 not found\n"
        assert result.stdout == ""
