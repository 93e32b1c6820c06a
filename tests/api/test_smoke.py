import pytest

from tests.api.world import World


def test_me_and_a_trial_through_its_lifecycle(client, world: World):
    me = client.get("/api/v1/me", headers=world.headers("partner"))
    assert me.status_code == 200, me.text
    assert me.json()["organisation_id"] == "startup-a"
    created = client.post(
        "/api/v1/trials",
        headers=world.headers("partner"),
        json={
            "title": "Noise map",
            "technology": "MEMS microphones",
            "trl_start": 3,
            "trl_target": 5,
            "starts_on": "2026-06-01",
            "ends_on": "2026-08-31",
        },
    )
    assert created.status_code == 201, created.text
    trial = created.json()
    assert trial["state"] == "draft"
    assert trial["actions"] == ["submit", "withdraw"]
    r = client.post(
        f"/api/v1/trials/{trial['id']}/transitions",
        headers=world.headers("partner"),
        json={"action": "submit"},
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/trials/{trial['id']}/transitions",
        headers=world.headers("partner"),
        json={"action": "approve"},
    )
    assert r.status_code == 403, r.text
    r = client.post(
        f"/api/v1/trials/{trial['id']}/transitions",
        headers=world.headers("operator"),
        json={"action": "approve"},
    )
    assert r.status_code == 200
    assert r.json()["state"] == "approved"
    audit = client.get(
        f"/api/v1/trials/{trial['id']}/audit", headers=world.headers("viewer")
    ).json()
    assert [e["action"] for e in audit] == ["create", "submit", "approve"]
    r = client.get(f"/api/v1/trials/{trial['id']}", headers=world.headers("other"))
    assert r.status_code == 404
    bad = client.post(
        "/api/v1/trials", headers=world.headers("partner"), json={"title": "x"}
    )
    assert bad.status_code == 422
    assert any(e["field"] == "title" for e in bad.json()["errors"]), bad.json()


@pytest.mark.slow
def test_without_a_database_every_endpoint_answers_503_in_json(monkeypatch):
    from fastapi.testclient import TestClient

    from livinglab_lab.ports import free_port
    from livinglab_platform.api import app as api_app
    from livinglab_platform.api import create_app
    from livinglab_platform.core.settings import ApiSettings

    # Each request waits this long for a connection that never comes before its 503: 0.5 s,
    # not the service's 5 s, which made this test wait 10 s.
    monkeypatch.setattr(api_app, "DATABASE_WAIT_S", 0.5)
    nowhere = f"postgresql://nobody@127.0.0.1:{free_port()}/livinglab?connect_timeout=1"
    with TestClient(create_app(ApiSettings(database_url=nowhere))) as client:
        for path in ("/api/v1/health", "/api/v1/trials"):
            answer = client.get(path, headers={"Authorization": "Bearer ll_x"})
            assert answer.status_code == 503
            assert "database is not reachable" in answer.json()["detail"]
            assert answer.headers["Retry-After"] == "5"
