"""A trial's lifecycle through the API, and the data each step opens or closes.

Every (state, action) pair is tried by each role against lifecycle.TRANSITIONS: allowed ones land
in the target state with an audit entry, refused ones answer 409 naming both states, or 403 for
a role that may not act. Then: approval opens an assigned device's data inside its assignment
period; a grant opens a trial to another organisation inside grant and assignment; viewers get
aggregates only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from livinglab_platform.trials.lifecycle import TRANSITIONS
from livinglab_platform.trials.schemas import Action, State
from tests.api.readings import fill_rollups
from tests.api.world import T0, World, add_device, make_trial

DAY = timedelta(days=1)
# make_trial assigns its device for [T0, T0 + 30 days).
ASSIGNED = (T0, T0 + 30 * DAY)
# Readings just outside, at the edges and inside the assignment period.
READINGS = [
    T0 - timedelta(minutes=1),
    T0,
    T0 + 12 * DAY,
    T0 + 29 * DAY,
    T0 + 30 * DAY,
    T0 + 30 * DAY + timedelta(minutes=1),
]
WHOLE_RANGE = {
    "start": (T0 - DAY).isoformat(),
    "end": (T0 + 31 * DAY).isoformat(),
}
WHO = {
    "operator": "Operator <operator@example.si>",
    "partner": "Partner <partner@example.si>",
}


def _transition(client, world: World, who: str, trial_id: int, action: Action):
    return client.post(
        f"/api/v1/trials/{trial_id}/transitions",
        headers=world.headers(who),
        json={"action": action.value, "reason": f"Reason for {action.value}"},
    )


def _error(response) -> str:
    body = response.json()
    assert body["errors"] == [], body
    assert body["detail"], body
    return str(body["detail"])


@pytest.mark.parametrize("state", list(State))
def test_every_action_from_every_state(client, world: World, state: State):
    with psycopg.connect(world.dsn) as conn:

        def fresh() -> int:
            return make_trial(conn, "startup-a", state=state.value)

        for action, rule in TRANSITIONS.items():
            where = f"{action.value} from {state.value}"
            allowed = state in rule.sources
            # A partner of the trial's organisation may take owner actions; every other role
            # is refused for its role before the state is looked at.
            actors = ["operator", "partner"] if rule.owner else ["operator"]
            for who in actors:
                trial_id = fresh()
                before = datetime.now(UTC)
                r = _transition(client, world, who, trial_id, action)
                if not allowed:
                    assert r.status_code == 409, f"{where} by {who}: {r.text}"
                    detail = _error(r)
                    assert f"is '{state.value}'" in detail, detail
                    for needed in rule.sources:
                        assert f"'{needed.value}'" in detail, detail
                    continue
                assert r.status_code == 200, f"{where} by {who}: {r.text}"
                assert r.json()["state"] == rule.target.value
                entry = client.get(
                    f"/api/v1/trials/{trial_id}/audit",
                    headers=world.headers("operator"),
                ).json()[-1]
                assert entry["action"] == action.value
                assert entry["actor"] == WHO[who]
                assert entry["reason"] == f"Reason for {action.value}"
                assert entry["details"] == {
                    "from": state.value,
                    "to": rule.target.value,
                }
                assert (
                    before <= datetime.fromisoformat(entry["time"]) <= datetime.now(UTC)
                )
            refused = ["viewer"] + ([] if rule.owner else ["partner"])
            for who in refused:
                trial_id = fresh()
                r = _transition(client, world, who, trial_id, action)
                # Viewers do not see drafts at all.
                status = 404 if who == "viewer" and state is State.draft else 403
                assert r.status_code == status, f"{where} by {who}: {r.text}"
                if status == 403:
                    assert f"may {action.value} a trial" in _error(r)
                assert (
                    client.get(
                        f"/api/v1/trials/{trial_id}", headers=world.headers("operator")
                    ).json()["state"]
                    == state.value
                )
            # Another startup does not even see the trial.
            trial_id = fresh()
            r = _transition(client, world, "other", trial_id, action)
            assert r.status_code == 404, f"{where} by other: {r.text}"
            assert f"trial {trial_id} not found" in _error(r)


@pytest.mark.parametrize(
    ("action", "state"), [("reject", "submitted"), ("withdraw", "draft")]
)
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_reject_and_withdraw_need_a_reason(
    client, world: World, action: str, state: str, reason: str | None
):
    with psycopg.connect(world.dsn) as conn:
        trial_id = make_trial(conn, "startup-a", state=state)
    body = (
        {"action": action} if reason is None else {"action": action, "reason": reason}
    )
    r = client.post(
        f"/api/v1/trials/{trial_id}/transitions",
        headers=world.headers("operator"),
        json=body,
    )
    assert r.status_code in (400, 422), r.text
    assert "reason" in r.json()["detail"]
    trial = client.get(
        f"/api/v1/trials/{trial_id}", headers=world.headers("operator")
    ).json()
    assert trial["state"] == state


def _lab_device_with_readings(world: World) -> str:
    """A device of the lab (not of any partner) with READINGS, and their minute rollups."""
    with psycopg.connect(world.dsn) as conn:
        sensor = add_device(conn, "dev-lab", None)
        for moment in READINGS:
            conn.execute(
                "INSERT INTO readings (time, sensor_id, value) VALUES (%s, %s, 1.0)",
                (moment, sensor),
            )
        # What the ingest service writes next to the readings; viewers read these.
        fill_rollups(conn)
        conn.commit()
    return "dev-lab"


def _raw_times(client, world: World, who: str, **params: object):
    r = client.get(
        "/api/v1/data",
        headers=world.headers(who),
        params={**WHOLE_RANGE, "interval": "raw", **params},
    )
    if r.status_code != 200:
        return r.status_code
    return [
        datetime.fromisoformat(p["time"])
        for series in r.json()["series"]
        for p in series["points"]
    ]


def _inside(start: datetime, end: datetime) -> list[datetime]:
    return [t for t in READINGS if start <= t < end]


def test_approval_opens_the_assigned_device_inside_its_period(client, world: World):
    device = _lab_device_with_readings(world)
    with psycopg.connect(world.dsn) as conn:
        trial_id = make_trial(conn, "startup-a", state="submitted", device=device)
    assert _raw_times(client, world, "partner", device=device) == 404
    assert _raw_times(client, world, "partner", trial=trial_id) == []
    r = _transition(client, world, "operator", trial_id, Action.approve)
    assert r.status_code == 200, r.text
    expected = _inside(*ASSIGNED)
    assert _raw_times(client, world, "partner", device=device) == expected
    assert _raw_times(client, world, "partner", trial=trial_id) == expected
    # The other startup has no part in the trial.
    assert _raw_times(client, world, "other", device=device) == 404
    # Operators see the whole device, and through the trial its assigned period.
    assert _raw_times(client, world, "operator", device=device) == READINGS
    assert _raw_times(client, world, "operator", trial=trial_id) == expected


def test_a_grant_opens_trial_and_data_inside_grant_and_assignment(client, world: World):
    device = _lab_device_with_readings(world)
    with psycopg.connect(world.dsn) as conn:
        trial_id = make_trial(conn, "startup-a", state="running", device=device)
    trial_url = f"/api/v1/trials/{trial_id}"
    assert client.get(trial_url, headers=world.headers("researcher")).status_code == 404
    assert _raw_times(client, world, "researcher", device=device) == 404

    grant_period = (T0 + 10 * DAY, T0 + 40 * DAY)
    r = client.post(
        f"{trial_url}/grants",
        headers=world.headers("operator"),
        json={
            "organisation_id": "ul-fe",
            "starts_at": grant_period[0].isoformat(),
            "ends_at": grant_period[1].isoformat(),
            "reason": "Joint evaluation with the faculty",
        },
    )
    assert r.status_code == 201, r.text
    grant_id = r.json()["id"]
    seen = client.get(trial_url, headers=world.headers("researcher"))
    assert seen.status_code == 200, seen.text
    assert seen.json()["actions"] == []
    listed = client.get("/api/v1/trials", headers=world.headers("researcher")).json()
    assert [t["id"] for t in listed] == [trial_id]
    # grant [T0+10d, T0+40d) ∩ assignment [T0, T0+30d)
    both = _inside(T0 + 10 * DAY, T0 + 30 * DAY)
    assert both == [T0 + 12 * DAY, T0 + 29 * DAY]
    assert _raw_times(client, world, "researcher", device=device) == both
    assert _raw_times(client, world, "researcher", trial=trial_id) == both

    r = client.delete(
        f"{trial_url}/grants/{grant_id}", headers=world.headers("operator")
    )
    assert r.status_code == 200, r.text
    assert r.json()["revoked"] is True
    assert client.get(trial_url, headers=world.headers("researcher")).status_code == 404
    assert _raw_times(client, world, "researcher", device=device) == 404
    assert _raw_times(client, world, "researcher", trial=trial_id) == 404


def test_viewers_get_aggregates_only(client, world: World):
    device = _lab_device_with_readings(world)
    r = client.get(
        "/api/v1/data",
        headers=world.headers("viewer"),
        params={**WHOLE_RANGE, "device": device, "interval": "raw"},
    )
    assert r.status_code == 403, r.text
    assert "interval" in r.json()["detail"]
    r = client.get(
        "/api/v1/data",
        headers=world.headers("viewer"),
        params={**WHOLE_RANGE, "device": device, "interval": "1m"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["interval"] == "1m"
    # Each of these minutes holds one reading, so each bucket would be that reading: a viewer
    # gets none of them (buckets are made of minutes of at least LIVINGLAB_VIEWER_MIN_COUNT
    # readings; tests/api/test_viewer_aggregates.py attacks the rule).
    assert r.json()["series"] == []
    # `auto` never gives a viewer raw readings, even for a short range.
    r = client.get(
        "/api/v1/data",
        headers=world.headers("viewer"),
        params={
            "device": device,
            "start": T0.isoformat(),
            "end": (T0 + timedelta(minutes=30)).isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["interval"] != "raw"


def test_a_partner_removes_only_its_own_devices_from_its_trial(client, world: World):
    with psycopg.connect(world.dsn) as conn:
        add_device(conn, "lab-dev", "lab")
        add_device(conn, "own-dev", "startup-a")
        trial_id = make_trial(conn, "startup-a", state="running", device="lab-dev")
        make_assignment = {
            "device_id": "own-dev",
            "starts_at": "2026-05-01T00:00:00Z",
            "ends_at": "2026-05-02T00:00:00Z",
        }
    own = client.post(
        f"/api/v1/trials/{trial_id}/devices",
        headers=world.headers("partner"),
        json=make_assignment,
    )
    assert own.status_code == 201, own.text
    lent = next(
        d["id"]
        for d in client.get(
            f"/api/v1/trials/{trial_id}", headers=world.headers("partner")
        ).json()["devices"]
        if d["device_id"] == "lab-dev"
    )
    refused = client.delete(
        f"/api/v1/trials/{trial_id}/devices/{lent}", headers=world.headers("partner")
    )
    assert refused.status_code == 403
    assert "ask an operator" in refused.json()["detail"]
    removed = client.delete(
        f"/api/v1/trials/{trial_id}/devices/{own.json()['id']}",
        headers=world.headers("partner"),
    )
    assert removed.status_code == 204
    by_operator = client.delete(
        f"/api/v1/trials/{trial_id}/devices/{lent}", headers=world.headers("operator")
    )
    assert by_operator.status_code == 204
