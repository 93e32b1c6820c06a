"""`livinglab orgs|people|tokens|sites`: the registry from the terminal, audited as `cli:<user>`."""

from __future__ import annotations

import getpass
import re

import psycopg
import pytest

from livinglab_platform.core.errors import AuthenticationError
from livinglab_platform.registry import tokens

CLI_USER = f"cli:{getpass.getuser()}"


def _token(output: str) -> str:
    return re.search(r"^(ll_\S+)$", output, re.MULTILINE).group(1)


def test_organisations_people_and_tokens(livinglab, dsn):
    livinglab(
        "orgs",
        "add",
        "mol",
        "--name",
        "Mestna občina Ljubljana",
        "--kind",
        "city_administration",
    )
    livinglab("orgs", "add", "zrak-io", "--name", "Zrak.io d.o.o.", "--kind", "company")
    listed = livinglab("orgs", "list").stdout
    assert "2 organisation(s), 1 in the MOL family" in listed
    mol = next(
        line for line in listed.splitlines() if "Mestna občina Ljubljana" in line
    )
    startup = next(line for line in listed.splitlines() if "Zrak.io" in line)
    assert "●" in mol
    assert "●" not in startup

    added = livinglab(
        "people", "add", "--org", "zrak-io", "--name", "Luka Horvat",
        "--email", "Luka@Zrak.example", "--role", "partner",
    )  # fmt: skip
    assert "luka@zrak.example" in added.stdout
    assert "luka@zrak.example" in livinglab("people", "list").stdout

    created = livinglab(
        "tokens",
        "create",
        "luka@zrak.example",
        "--name",
        "laptop",
        "--expires",
        "2099-01-01",
    )
    token = _token(created.stdout)
    assert "shown once" in created.stderr
    with psycopg.connect(dsn) as conn:
        principal = tokens.authenticate(conn, token)
        expires = conn.execute("SELECT expires_at FROM tokens").fetchone()[0]
    assert (principal.name, principal.organisation_id) == ("Luka Horvat", "zrak-io")
    # The last day of a token is included: it stops at Ljubljana's midnight after it (CET).
    assert expires.isoformat().startswith("2099-01-01T23:00:00")

    listed = livinglab("tokens", "list", "luka@zrak.example").stdout
    assert "laptop" in listed
    assert token[:10] in listed
    assert token not in listed  # the secret is never shown again
    token_id = re.search(r"token (\d+) \(laptop\)", created.stdout).group(1)
    livinglab("tokens", "revoke", token_id)
    assert "revoked" in livinglab("tokens", "list", "luka@zrak.example").stdout
    with (
        psycopg.connect(dsn) as conn,
        pytest.raises(AuthenticationError, match="revoked"),
    ):
        tokens.authenticate(conn, token)

    with psycopg.connect(dsn) as conn:
        actors = {
            r[0] for r in conn.execute("SELECT DISTINCT actor_label FROM audit_log")
        }
    assert actors == {CLI_USER}


def test_sites_with_host_and_description(livinglab, dsn):
    livinglab(
        "orgs",
        "add",
        "tpl",
        "--name",
        "Tehnološki park Ljubljana",
        "--kind",
        "technology_park",
    )
    livinglab(
        "sites", "add", "tp-ljubljana", "--name", "Tehnološki park Ljubljana",
        "--latitude", "46.0456", "--longitude", "14.4589", "--address", "Tehnološki park 19",
        "--host-org", "tpl", "--description", "Rooftop",
    )  # fmt: skip
    listed = livinglab("sites", "list").stdout
    assert re.search(
        r"tp-ljubljana .*Tehnološki park Ljubljana .*tpl .*Tehnološki park 19 .*46\.0456 │ 14\.4589",
        listed,
    )
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT host_organisation_id, description FROM sites"
        ).fetchone()
        audit = conn.execute(
            "SELECT actor_label, action FROM audit_log WHERE object_type = 'site'"
        ).fetchall()
    assert row == ("tpl", "Rooftop")
    assert audit == [(CLI_USER, "create")]


def test_refusals_are_one_readable_line_with_status_2(livinglab):
    unknown_host = livinglab(
        "sites", "add", "s1", "--name", "S", "--host-org", "nobody", code=2
    )
    assert "organisation 'nobody' does not exist" in unknown_host.stderr
    unknown_person = livinglab("tokens", "create", "nobody@example.si", code=2)
    assert "no person with e-mail 'nobody@example.si'" in unknown_person.stderr
    bad_email = livinglab(
        "people",
        "add",
        "--org",
        "x",
        "--name",
        "X",
        "--email",
        "not-an-email",
        "--role",
        "viewer",
        code=2,
    )
    assert (
        "invalid input: email 'not-an-email' must be an e-mail address"
        in bad_email.stderr
    )
    bad_kind = livinglab("orgs", "add", "x", "--name", "X", "--kind", "club", code=2)
    assert "'club' is not one of" in bad_kind.output
    livinglab("orgs", "add", "mol", "--name", "MOL", "--kind", "city_administration")
    again = livinglab(
        "orgs", "add", "mol", "--name", "MOL", "--kind", "city_administration", code=2
    )
    assert again.stderr.strip() == "error: organisation 'mol' already exists"
    bad_date = livinglab("tokens", "create", "x@y.si", "--expires", "tomorrow", code=2)
    assert "'tomorrow' is not an ISO date" in bad_date.output
    for result in (unknown_host, unknown_person, bad_email, again):
        assert "Traceback" not in result.output
