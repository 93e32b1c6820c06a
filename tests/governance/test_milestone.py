"""The milestone "a working living lab" as of past dates: criteria met, lost, and first met."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from livinglab_platform.governance import milestone, milestone_criteria
from livinglab_platform.trials import registration
from tests.api.world import CLI, add_device, make_trial, trial_input
from tests.governance.record import form

LJ = ZoneInfo("Europe/Ljubljana")


def _criteria(conn, day: date):
    return {c.key: c for c in milestone(conn, CLI, as_of=day).criteria}


def _deliver(conn, device: str, first: datetime, days: int, *, skip: int = 0) -> None:
    """One batch an hour for `days` days from `first`, leaving out every `skip`-th seq."""
    conn.execute(
        "INSERT INTO deliveries (device_id, seq, readings, received_at)"
        " SELECT %s, g, 10, %s + g * interval '1 hour' FROM generate_series(0, %s) g"
        " WHERE %s = 0 OR g %% %s <> 1",
        (device, first, days * 24 - 1, skip, skip),
    )
    conn.commit()


def _backdate_trial(conn, trial_id: int, moment: datetime) -> None:
    conn.execute(
        "UPDATE audit_log SET time = %s + id * interval '1 second'"
        " WHERE object_type = 'trial' AND object_id = %s",
        (moment, str(trial_id)),
    )
    conn.commit()


def test_every_criterion_met_on_the_last_day_of_2025(conn):
    form(
        conn,
        "living_lab_partnership",
        ["mol", "ul-fe", "tp-lj"],
        date(2024, 3, 1),
        link="https://www.ljubljana.si/sporazum.pdf",
    )
    conn.execute("UPDATE people SET created_at = '2023-01-01'")
    add_device(conn, "air-1", "startup-a")
    _deliver(conn, "air-1", datetime(2025, 12, 1, tzinfo=LJ), 31)
    done = make_trial(conn, "startup-a", state="completed")
    _backdate_trial(conn, done, datetime(2025, 9, 1, tzinfo=LJ))
    trial = registration.create_trial(
        conn,
        CLI,
        trial=trial_input(
            organisation_id="startup-a",
            partners=[
                {"organisation_id": "ul-fe"},
                {"organisation_id": "mol"},
                {"organisation_id": "focus"},
            ],
        ),
    )
    conn.commit()
    from livinglab_platform.trials import transitions
    from livinglab_platform.trials.schemas import TransitionRequest

    for action in ("submit", "approve", "deploy", "start"):
        transitions.transition(
            conn,
            CLI,
            trial.id,
            request=TransitionRequest(action=action),  # type: ignore[arg-type]
        )
    conn.commit()
    _backdate_trial(conn, trial.id, datetime(2025, 4, 1, tzinfo=LJ))

    result = milestone(conn, CLI, as_of=date(2025, 12, 31))
    missing = {c.key: c.missing for c in result.criteria if not c.met}
    assert missing == {}
    assert result.achieved
    found = {c.key: c for c in result.criteria}
    assert found["education_partnership"].first_met_on == date(2024, 3, 1)
    assert found["education_partnership"].evidence[0].quality == "documented"
    assert found["operator"].first_met_on == date(2023, 1, 1)
    assert found["real_life_setting"].first_met_on == date(2025, 12, 1)
    assert found["experimentation"].first_met_on == date(2025, 9, 1)
    assert found["multi_stakeholder"].first_met_on == date(2025, 4, 1)
    assert found["data_you_can_trust"].value == "100.00%"
    assert found["data_you_can_trust"].first_met_on == date(2025, 12, 1)
    # Before the partnership began, and before any trial or delivery, little is met.
    before = milestone(conn, CLI, as_of=date(2024, 2, 29))
    assert {c.key for c in before.criteria if c.met} == {"operator"}
    assert not before.achieved


def test_a_criterion_met_then_lost_says_when_and_what_is_missing(conn):
    add_device(conn, "air-1", "startup-a")
    _deliver(conn, "air-1", datetime(2025, 3, 10, tzinfo=LJ), 1)
    on_the_day = _criteria(conn, date(2025, 3, 10))["real_life_setting"]
    assert (on_the_day.met, on_the_day.first_met_on) == (True, date(2025, 3, 10))
    assert on_the_day.facts == ["site site-1: air-1"]
    later = _criteria(conn, date(2025, 3, 12))["real_life_setting"]
    assert (later.met, later.first_met_on) == (False, date(2025, 3, 10))
    assert (
        later.missing
        == "no pilot site's devices reported on 2025-03-12 (Ljubljana time)"
    )

    done = make_trial(conn, "startup-a", state="completed")
    _backdate_trial(conn, done, datetime(2024, 6, 15, 12, tzinfo=LJ))
    assert _criteria(conn, date(2025, 6, 14))["experimentation"].met
    lost = _criteria(conn, date(2025, 6, 15))["experimentation"]
    assert (lost.met, lost.first_met_on) == (False, date(2024, 6, 15))
    assert lost.missing == "no trial completed between 2024-06-16 and 2025-06-15"

    # A partnership that ended: met while it lasted.
    form(
        conn,
        "living_lab_partnership",
        ["ul-fe", "mol"],
        date(2024, 1, 1),
        date(2024, 12, 31),
        link="https://x.si/p.pdf",
    )
    ended = _criteria(conn, date(2025, 1, 1))["education_partnership"]
    assert (ended.met, ended.first_met_on) == (False, date(2024, 1, 1))
    assert _criteria(conn, date(2024, 12, 31))["education_partnership"].met


def test_a_partnership_without_a_signed_agreement_does_not_count(conn):
    form(
        conn,
        "living_lab_partnership",
        ["tp-lj", "mol"],
        date(2024, 1, 1),
        statement="agreed at a meeting",
    )
    found = _criteria(conn, date(2025, 12, 31))["technology_park_partnership"]
    assert not found.met
    assert "signed agreement" in str(found.missing)


def test_completeness_below_the_threshold(conn):
    add_device(conn, "air-1", "startup-a")
    # Every 10th seq missing: 90 % received in every window, below 99.9 %.
    _deliver(conn, "air-1", datetime(2025, 11, 1, tzinfo=LJ), 61, skip=10)
    found = _criteria(conn, date(2025, 12, 31))["data_you_can_trust"]
    assert not found.met
    assert found.missing == "completeness 90.00% is below 99.9%"
    assert milestone_criteria(conn).completeness_threshold == 0.999
    # None in the 30 days before 2026-02-15: missing says so.
    after = _criteria(conn, date(2026, 2, 15))["data_you_can_trust"]
    assert after.value == "no deliveries"
    assert after.first_met_on is None


def test_helix_lost_when_the_trial_completes(conn):
    trial = registration.create_trial(
        conn,
        CLI,
        trial=trial_input(
            organisation_id="startup-a",
            partners=[{"organisation_id": o} for o in ("ul-fe", "mol", "focus")],
        ),
    )
    conn.commit()
    from livinglab_platform.trials import transitions
    from livinglab_platform.trials.schemas import TransitionRequest

    for action in ("submit", "approve", "deploy", "start", "evaluate", "complete"):
        transitions.transition(
            conn,
            CLI,
            trial.id,
            request=TransitionRequest(action=action),  # type: ignore[arg-type]
        )
    conn.commit()
    conn.execute(
        "UPDATE audit_log SET time = CASE action WHEN 'complete' THEN timestamptz '2025-10-01 12:00+02'"
        " ELSE timestamptz '2025-04-01 12:00+02' + id * interval '1 second' END"
        " WHERE object_type = 'trial' AND object_id = %s",
        (str(trial.id),),
    )
    conn.commit()
    assert _criteria(conn, date(2025, 9, 30))["multi_stakeholder"].met
    lost = _criteria(conn, date(2025, 10, 2))["multi_stakeholder"]
    assert (lost.met, lost.first_met_on) == (False, date(2025, 4, 1))
    assert "business" in str(lost.missing)
