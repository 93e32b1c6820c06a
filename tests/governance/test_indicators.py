"""The strategy's indicators at the edges of a year, in Ljubljana dates, and their evidence."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from livinglab_platform.governance import applications, indicators
from livinglab_platform.governance.schemas import ApplicationUpdate, IndicatorsPublic
from livinglab_platform.trials import transitions
from livinglab_platform.trials.schemas import TransitionRequest
from tests.api.world import CLI, make_trial
from tests.governance.record import application, attach, form, meeting

LJ = ZoneInfo("Europe/Ljubljana")


def _value(conn, year: int, key: str) -> int:
    return _by_key(indicators(conn, CLI, year=year))[key].value


def _by_key(result: IndicatorsPublic):
    return {i.key: i for i in result.indicators}


def test_a_form_across_a_year_end_counts_in_both_years(conn):
    form(conn, "mol_family", ["mol", "energetika"], date(2024, 6, 1), date(2025, 3, 31))
    assert [_value(conn, y, "mol_family_form") for y in (2023, 2024, 2025, 2026)] == [
        0,
        1,
        1,
        0,
    ]


def test_a_form_ending_mid_year_counts_for_that_year_only(conn):
    form(conn, "vertical", ["mol", "arso"], date(2025, 1, 10), date(2025, 6, 30))
    form(conn, "horizontal", ["mol", "maribor"], date(2025, 12, 31))
    form(conn, "horizontal", ["mol", "eurocities"], date(2026, 1, 1))
    assert [_value(conn, y, "vertical_link") for y in (2024, 2025, 2026)] == [0, 1, 0]
    # Starting on the year's last day counts; on the next year's first day it does not.
    assert [_value(conn, y, "horizontal_link") for y in (2024, 2025, 2026)] == [0, 1, 2]


def test_forms_count_only_with_the_members_the_rule_asks_for(conn):
    form(
        conn, "mol_family", ["mol", "startup-a"], date(2025, 1, 1)
    )  # one MOL member only
    form(conn, "horizontal", ["mol", "arso"], date(2025, 1, 1))  # no other city
    form(
        conn, "vertical", ["mol", "maribor"], date(2025, 1, 1)
    )  # no national institution
    found = _by_key(indicators(conn, CLI, year=2025))
    assert [
        found[k].value for k in ("mol_family_form", "horizontal_link", "vertical_link")
    ] == [
        0,
        0,
        0,
    ]
    form(conn, "mol_family", ["mol", "lab"], date(2025, 1, 1))
    assert _value(conn, 2025, "mol_family_form") == 1


def test_meetings_count_by_their_ljubljana_date(conn):
    # 31 December 23:30 in Ljubljana is 22:30 UTC: 2025. 1 January 00:30 is 23:30 UTC on 31 December: 2026.
    late = meeting(conn, datetime(2025, 12, 31, 23, 30, tzinfo=LJ))
    early = meeting(conn, datetime(2025, 12, 31, 23, 30, tzinfo=UTC))
    in_2025 = _by_key(indicators(conn, CLI, year=2025))["council_meetings"]
    in_2026 = _by_key(indicators(conn, CLI, year=2026))["council_meetings"]
    assert [r.record_id for r in in_2025.records] == [late]
    assert [r.record_id for r in in_2026.records] == [early]
    assert in_2025.records[0].on == date(2025, 12, 31)
    assert in_2026.records[0].on == date(2026, 1, 1)


def test_a_withdrawal_after_submission_does_not_undo_it(conn):
    withdrawn = application(
        conn,
        [
            ("in_preparation", date(2024, 11, 1)),
            ("submitted", date(2025, 2, 1)),
            ("withdrawn", date(2025, 4, 1)),
        ],
    )
    application(
        conn, [("in_preparation", date(2025, 1, 5)), ("withdrawn", date(2025, 3, 1))]
    )  # never submitted: does not count
    found = _by_key(indicators(conn, CLI, year=2025))["applications_submitted"]
    assert [r.record_id for r in found.records] == [withdrawn]
    assert "now withdrawn" in found.records[0].label
    assert _value(conn, 2024, "applications_submitted") == 0


def test_an_edited_status_history_moves_the_submission(conn):
    edited = application(
        conn, [("in_preparation", date(2025, 11, 1)), ("submitted", date(2025, 12, 20))]
    )
    assert _value(conn, 2025, "applications_submitted") == 1
    applications.update_application(
        conn,
        CLI,
        edited,
        changes=ApplicationUpdate.model_validate(
            {
                "status_history": [
                    {"status": "in_preparation", "on": "2025-11-01"},
                    {"status": "submitted", "on": "2026-01-05"},
                ]
            }
        ),
    )
    conn.commit()
    assert (
        _value(conn, 2025, "applications_submitted"),
        _value(conn, 2026, "applications_submitted"),
    ) == (0, 1)
    replaced = conn.execute(
        "SELECT details->'replaced_status_history'->1->>'on' FROM audit_log"
        " WHERE object_type = 'application' AND action = 'update'"
    ).fetchone()
    assert replaced == ("2025-12-20",)


def test_three_applications_meet_the_target_and_self_reported_evidence_is_flagged(conn):
    ids = [
        application(conn, [("submitted", date(2025, month, 1))], acronym=f"A{month}")
        for month in (3, 6, 9)
    ]
    for i in ids:
        attach(
            conn,
            "application",
            i,
            statement="submitted by e-mail, says the project office",
        )
    found = _by_key(indicators(conn, CLI, year=2025))["applications_submitted"]
    assert (found.value, found.target, found.met, found.self_reported_only) == (
        3,
        3,
        True,
        True,
    )
    assert {r.quality for r in found.records} == {"self_reported"}
    attach(conn, "application", ids[0], link="https://ec.europa.eu/receipt/1")
    attach(conn, "application", ids[1], link="https://ec.europa.eu/receipt/2")
    found = _by_key(indicators(conn, CLI, year=2025))["applications_submitted"]
    assert found.self_reported_only  # two documented of three needed
    attach(conn, "application", ids[2], link="https://ec.europa.eu/receipt/3")
    found = _by_key(indicators(conn, CLI, year=2025))["applications_submitted"]
    assert (found.met, found.self_reported_only) == (True, False)
    assert found.records[2].evidence[-1].url == "https://ec.europa.eu/receipt/3"


def test_the_year_partially_achieved_and_why(conn):
    form(
        conn,
        "mol_family",
        ["mol", "energetika"],
        date(2023, 1, 1),
        link="https://x.si/a.pdf",
    )
    form(conn, "horizontal", ["mol", "eurocities"], date(2023, 1, 1))
    meeting(conn, datetime(2025, 5, 5, 10, tzinfo=LJ))
    result = indicators(conn, CLI, year=2025)
    met = {i.key: i.met for i in result.indicators}
    assert met == {
        "mol_family_form": True,
        "horizontal_link": True,
        "vertical_link": False,
        "council_meetings": True,
        "applications_submitted": False,
        "working_living_lab": False,
    }
    assert (result.verdict.key, result.verdict.sl) == (
        "partially_achieved",
        "Cilj je delno dosežen",
    )
    assert result.as_of == date(2025, 12, 31)
    empty = indicators(conn, CLI, year=2021)
    assert (empty.verdict.key, empty.verdict.sl) == ("not_achieved", "Cilj ni dosežen")


def test_the_labs_own_indicators(conn):
    application(
        conn,
        [("submitted", date(2025, 2, 1)), ("granted", date(2025, 6, 1))],
        total_budget="2500000.00",
        mol_share="300000.50",
    )
    application(
        conn,
        [("submitted", date(2025, 3, 1)), ("granted", date(2025, 8, 1))],
        total_budget="0.10",
        mol_share="0.05",
    )
    completed = make_trial(conn, "startup-a", state="evaluating")
    trial = transitions.transition(
        conn,
        CLI,
        completed,
        request=TransitionRequest(action="complete", outcome="procured"),  # type: ignore[arg-type]
    )
    conn.commit()
    assert trial.outcome == "procured"
    this_year = datetime.now(LJ).year
    lab = indicators(conn, CLI, year=this_year).lab
    assert (lab.trials_started, lab.trials_completed) == (1, 1)
    assert lab.outcomes["procured"] == 1
    assert lab.continued_scaled_procured_share == 1.0
    # The trial's organisation (startup-a, a company), approved, period 2026-05-01 to 2026-09-30.
    assert lab.helix_partners == {
        "public": 0,
        "research": 0,
        "business": 1,
        "society": 0,
    }
    granted = indicators(conn, CLI, year=2025).lab
    assert granted.applications_granted == 2
    assert granted.funds_won_total == Decimal("2500000.10")
    assert granted.funds_won_mol == Decimal("300000.55")
