"""A token never outlives the token that made it, and a person holds a bounded number of them.

The attack (a security review's): with a short-lived or stolen token, create a new token through
the API; before the fix it had no expiry and kept working after its parent expired or was revoked.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg

from livinglab_platform.registry import tokens
from livinglab_platform.registry.schemas import TokenCreate
from tests.api.world import CLI, World


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_made_with_a_short_lived_token_expires_with_it(client, world: World):
    with psycopg.connect(world.dsn) as conn:
        short = tokens.create_token(
            conn,
            CLI,
            person_id=world.person_ids["partner"],
            token=TokenCreate(
                name="short", expires_at=datetime.now(UTC) + timedelta(seconds=3)
            ),
        )
        conn.commit()
    child = client.post("/api/v1/tokens", headers=_bearer(short.token), json={})
    assert child.status_code == 201, child.text
    assert child.json()["expires_at"] is not None
    assert datetime.fromisoformat(child.json()["expires_at"]) == short.expires_at
    later = (short.expires_at + timedelta(days=365)).isoformat()  # type: ignore[operator]
    refused = client.post(
        "/api/v1/tokens", headers=_bearer(short.token), json={"expires_at": later}
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["field"] == "expires_at"
    time.sleep(max(0.0, (short.expires_at - datetime.now(UTC)).total_seconds()) + 0.5)  # type: ignore[operator]
    assert client.get("/api/v1/me", headers=_bearer(short.token)).status_code == 401
    late = client.get("/api/v1/me", headers=_bearer(child.json()["token"]))
    assert late.status_code == 401, late.text


def test_revoking_a_token_revokes_the_tokens_it_made(client, world: World):
    stolen = world.tokens["partner"]
    child = client.post("/api/v1/tokens", headers=_bearer(stolen), json={}).json()
    grandchild = client.post(
        "/api/v1/tokens", headers=_bearer(child["token"]), json={}
    ).json()
    [parent] = [
        t
        for t in client.get("/api/v1/tokens", headers=_bearer(stolen)).json()
        if t["name"] == "tests"
    ]
    revoked = client.delete(
        f"/api/v1/tokens/{parent['id']}", headers=world.headers("operator")
    )
    assert revoked.status_code == 200, revoked.text
    for made in (child, grandchild):
        answer = client.get("/api/v1/me", headers=_bearer(made["token"]))
        assert answer.status_code == 401, answer.text
    with psycopg.connect(world.dsn) as conn:
        rows = conn.execute(
            "SELECT id, parent_id, revoked_at IS NOT NULL FROM tokens"
            " WHERE id = ANY(%s) ORDER BY id",
            ([parent["id"], child["id"], grandchild["id"]],),
        ).fetchall()
    assert rows == [
        (parent["id"], None, True),
        (child["id"], parent["id"], True),
        (grandchild["id"], child["id"], True),
    ]
    # The operator's own tokens are not the partner's children: they still work.
    assert (
        client.get("/api/v1/me", headers=world.headers("operator")).status_code == 200
    )


def test_a_person_holds_a_bounded_number_of_active_tokens(client, world: World):
    headers = world.headers("partner")
    made = [
        client.post("/api/v1/tokens", headers=headers, json={"name": f"t{i}"})
        for i in range(tokens.MAX_ACTIVE_TOKENS - 1)  # the world gave them one already
    ]
    assert all(r.status_code == 201 for r in made), [r.text for r in made]
    refused = client.post("/api/v1/tokens", headers=headers, json={"name": "one more"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"] == [
        {"field": "person_id", "message": refused.json()["detail"]}
    ]
    # An operator cannot exceed it for them either.
    for_them = client.post(
        f"/api/v1/people/{world.person_ids['partner']}/tokens",
        headers=world.headers("operator"),
        json={},
    )
    assert for_them.status_code == 409, for_them.text
    client.delete(f"/api/v1/tokens/{made[0].json()['id']}", headers=headers)
    again = client.post("/api/v1/tokens", headers=headers, json={"name": "again"})
    assert again.status_code == 201, again.text


def test_tokens_made_at_the_command_line_have_no_parent(world: World):
    with psycopg.connect(world.dsn) as conn:
        made = tokens.create_token(
            conn, CLI, person_id=world.person_ids["viewer"], token=TokenCreate()
        )
        row = conn.execute(
            "SELECT parent_id, expires_at FROM tokens WHERE id = %s", (made.id,)
        ).fetchone()
    assert row == (None, None)
