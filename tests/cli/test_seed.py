"""The demo's registry (seed.py): every kind of organisation, people with tokens, trials in every
state, and nothing doubled when it runs again."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg

from livinglab_lab import seed
from livinglab_platform.registry import tokens
from livinglab_platform.registry.schemas import Kind
from livinglab_platform.trials.schemas import State

DEVICES = ("tp-air-01", "fe-pm-01", "center-noise-01")
TODAY = date(2026, 5, 10)


def _seed(dsn, tokens=None):
    with psycopg.connect(dsn) as conn:
        working = seed.seed_registry(conn, tokens=tokens)
        for device_id, site_id in zip(
            DEVICES, ("tp-ljubljana", "ul-fe", "presernov-trg"), strict=True
        ):
            conn.execute(
                "INSERT INTO devices (id, site_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (device_id, site_id),
            )
        conn.commit()
        added = seed.seed_trials(conn, devices=DEVICES, today=TODAY)
    return working, added


def _counts(conn):
    return conn.execute(
        "SELECT (SELECT count(*) FROM organisations), (SELECT count(*) FROM people),"
        " (SELECT count(*) FROM sites), (SELECT count(*) FROM trials),"
        " (SELECT count(*) FROM trial_devices), (SELECT count(*) FROM grants)"
    ).fetchone()


def test_seeding_twice_adds_nothing_and_keeps_working_tokens(dsn):
    issued, added = _seed(dsn)
    assert added == len(seed.TRIALS)
    assert set(issued) == {p.handle for p in seed.PEOPLE}
    with psycopg.connect(dsn) as conn:
        first = _counts(conn)
        kinds = {r[0] for r in conn.execute("SELECT kind FROM organisations")}
        for person in seed.PEOPLE:
            assert tokens.authenticate(conn, issued[person.handle]).name == person.name
        conn.commit()
    assert first == (len(seed.ORGANISATIONS), len(seed.PEOPLE), 3, 6, 3, 1)
    assert kinds == {k.value for k in Kind}

    # A lost token is replaced; the others are kept.
    kept = {h: t for h, t in issued.items() if h != "viewer"}
    again, added = _seed(dsn, tokens=kept)
    assert added == 0
    assert {h: again[h] for h in kept} == kept
    assert again["viewer"] != issued["viewer"]
    with psycopg.connect(dsn) as conn:
        assert _counts(conn) == first
        assert conn.execute("SELECT count(*) FROM tokens").fetchone() == (
            len(seed.PEOPLE) + 1,
        )


def test_trials_in_every_state_with_their_audit_trail(dsn):
    _seed(dsn)
    with psycopg.connect(dsn) as conn:
        states = dict(conn.execute("SELECT title, state FROM trials").fetchall())
        running = conn.execute(
            "SELECT t.id, t.organisation_id, min(d.starts_at), max(d.ends_at), count(*)"
            " FROM trials t JOIN trial_devices d ON d.trial_id = t.id GROUP BY t.id"
        ).fetchall()
        rejected = conn.execute(
            "SELECT state_reason, personal_data FROM trials WHERE state = 'rejected'"
        ).fetchone()
        trail = conn.execute(
            "SELECT a.actor_label, a.action FROM audit_log a"
            " WHERE a.object_type = 'trial' AND a.object_id = %s ORDER BY a.id",
            (str(running[0][0]),),
        ).fetchall()
    assert sorted(states.values()) == sorted(
        s.value
        for s in (
            State.running,
            State.submitted,
            State.approved,
            State.draft,
            State.completed,
            State.rejected,
        )
    )
    _, owner, starts, ends, assigned = running[0]
    assert states[seed.TRIALS[0].title] == "running"
    assert owner == "ul-fe"
    assert assigned == len(DEVICES)
    # The devices count for the running trial from a week before the seeding until its end.
    assert starts == datetime(2026, 5, 3, tzinfo=UTC)
    assert ends > datetime(2026, 11, 1, tzinfo=UTC)
    assert "data protection impact assessment" in rejected[0]
    assert rejected[1] is True
    assert trail == [
        ("Ana Novak", "create"),
        ("Ana Novak", "submit"),
        ("Maja Kovač", "approve"),
        ("Ana Novak", "deploy"),
        ("Maja Kovač", "assign_device"),
        ("Maja Kovač", "assign_device"),
        ("Maja Kovač", "assign_device"),
        ("Ana Novak", "start"),
        ("Maja Kovač", "grant"),
    ]
