"""The web pages through TestClient: sign-in, both languages, CSRF, access, the trial form."""

from __future__ import annotations

import html
import re
from pathlib import Path

import psycopg
import pytest

from livinglab_platform.governance.helix import SECTORS
from livinglab_platform.governance.schemas import (
    ApplicationStatus,
    DecisionKind,
    MolRole,
    Quality,
)
from livinglab_platform.registry.schemas import Role
from livinglab_platform.trials.schemas import Action, Outcome, State
from livinglab_platform.web import i18n
from livinglab_platform.web.charts import RANGES
from livinglab_platform.web.forms import TEXT_FIELDS
from tests.api.world import add_device, make_trial
from tests.web.conftest import approved_trial_with_readings, csrf_of, sign_in

TEMPLATES = Path(__file__).parents[2] / "platform/src/livinglab_platform/web/templates"


def _form(csrf: str, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "csrf": csrf,
        "title": "Noise map of Prešernov trg",
        "technology": "MEMS microphones",
        "technology_description": "Eight microphones on lamp posts",
        "trl_start": "4",
        "trl_target": "6",
        "starts_on": "2027-03-01",
        "ends_on": "2027-06-30",
        "site_ids": ["site-1"],
        "partners": ["ul-fe"],
        "success_criteria": "Noise map within 2 dB of the reference",
        "data_sharing_terms": "Open data after the trial",
        "personal_data": "no",
    }
    values.update(overrides)
    return values


# Sign-in and sign-out.


def test_sign_in_with_a_good_token_sets_a_strict_httponly_cookie(client, world):
    page = client.get("/")
    assert page.status_code == 200
    assert "Prilepite žeton" in page.text
    answer = client.post(
        "/signin",
        data={"token": world.tokens["partner"], "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/trials"
    cookie = next(
        c
        for c in answer.headers.get_list("set-cookie")
        if c.startswith("livinglab_token=")
    )
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "Secure" not in cookie
    trials_page = client.get("/trials")
    assert trials_page.status_code == 200
    assert "Moji preizkusi" in trials_page.text
    assert "Startup A d.o.o." in trials_page.text
    # Signed in, the home page leads to my trials.
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"] == "/trials"


def test_a_wrong_token_shows_the_form_again_with_an_error(client):
    page = client.get("/?lang=en")
    answer = client.post(
        "/signin", data={"token": "ll_not-a-token", "csrf": csrf_of(page.text)}
    )
    assert answer.status_code == 400
    assert "This token does not work" in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert "livinglab_token" not in client.cookies
    assert client.get("/trials", follow_redirects=False).headers["location"] == "/"


def test_secure_cookies_when_served_over_https(world, api_dsn):
    from fastapi.testclient import TestClient

    from livinglab_platform.api import create_app
    from livinglab_platform.core.settings import ApiSettings
    from tests.api.conftest import broker_settings

    settings = ApiSettings(database_url=api_dsn, api_secure_cookies=True)
    with TestClient(
        create_app(settings, broker_settings(None)), base_url="https://testserver"
    ) as client:
        page = client.get("/")
        answer = client.post(
            "/signin",
            data={"token": world.tokens["viewer"], "csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        cookies = answer.headers.get_list("set-cookie")
        assert cookies
        assert all("; Secure" in c for c in cookies), cookies


def test_sign_out_forgets_the_token(client, world):
    sign_in(client, world, "partner")
    page = client.get("/trials")
    answer = client.post("/signout", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 200
    assert answer.url.path == "/"
    assert "Prilepite žeton" in answer.text
    assert client.get("/trials", follow_redirects=False).status_code == 303
    # A plain link signs out too: it only ever takes access away.
    sign_in(client, world, "viewer")
    assert client.get("/signout").url.path == "/"
    assert "livinglab_token" not in client.cookies


def test_pages_lead_to_the_sign_in_page_without_a_token(client):
    for path in ("/trials", "/trials/new", "/trials/1", "/queue", "/devices"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/", path


def test_a_revoked_token_ends_the_session_with_a_message(client, world):
    sign_in(client, world, "viewer")
    with psycopg.connect(world.dsn) as conn:
        conn.execute(
            "UPDATE tokens SET revoked_at = now() WHERE person_id = %s",
            (world.person_ids["viewer"],),
        )
    answer = client.get("/trials")
    assert answer.url.path == "/"
    assert "Vaša prijava ni več veljavna" in answer.text
    assert "livinglab_token" not in client.cookies
    # The sign-in form on that page works: its CSRF token was kept.
    again = client.post(
        "/signin", data={"token": world.tokens["partner"], "csrf": csrf_of(answer.text)}
    )
    assert again.url.path == "/trials", again.text


# Languages.


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "sl",
            {
                "/trials": "Vsi preizkusi",
                "/trials/new": "Prijava novega preizkusa",
                "/trial": "Revizijska sled",
                "/queue": "Oddani preizkusi, ki čakajo na vašo odločitev",
                "/devices": "Nazadnje slišana",
            },
        ),
        (
            "en",
            {
                "/trials": "All trials",
                "/trials/new": "Register a new trial",
                "/trial": "Audit trail",
                "/queue": "Submitted trials waiting for your decision",
                "/devices": "Last seen",
            },
        ),
    ],
)
def test_each_page_renders_in_both_languages(client, world, lang, words):
    with psycopg.connect(world.dsn) as conn:
        add_device(conn, "dev-a", "startup-a")
        conn.commit()
        trial_id = make_trial(conn, "startup-a", state="submitted")
    sign_in(client, world, "operator")
    for path, word in words.items():
        url = f"/trials/{trial_id}" if path == "/trial" else path
        answer = client.get(f"{url}?lang={lang}")
        assert answer.status_code == 200, (url, answer.text)
        assert word in answer.text, url
        assert f'<html lang="{lang}">' in answer.text
        assert "livinglab · živi laboratorij Ljubljana" in answer.text
        assert 'name="viewport"' in answer.text
    # The choice is kept in a cookie: the next page without ?lang= stays in it.
    assert client.cookies["livinglab_lang"] == lang
    again = client.get("/trials")
    assert words["/trials"] in again.text


def test_slovenian_is_the_default_and_the_switch_links_both(client):
    page = client.get("/")
    assert '<html lang="sl">' in page.text
    assert 'href="/?lang=en"' in page.text
    assert 'href="/?lang=sl"' in page.text
    assert "Prijava" in client.get("/?lang=de").text


def test_every_message_has_both_languages_and_templates_use_known_ids():
    for message_id, texts in i18n.MESSAGES.items():
        assert set(texts) == {"sl", "en"}, message_id
        assert all(texts.values()), message_id
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(
            re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']""", template.read_text())
        )
    # Ids built from a prefix ("state." ~ trial.state.value) are checked per enum below.
    prefixes = {u for u in used if u.endswith(".")}
    assert prefixes == {
        "action.",
        "devices.",
        "field.",
        "role.",
        "state.",
        "range.",
        "nav.trials.",
        # The yearly report's (report_body.html), checked per enum below.
        "criterion.",
        "decision.",
        "molrole.",
        "outcome.",
        "quality.",
        "sector.",
        "status.",
        "tstate.",
    }
    used -= prefixes
    assert used, "no message ids found in the templates"
    assert used <= set(i18n.MESSAGES), used - set(i18n.MESSAGES)
    for prefix, enum in (
        ("state.", State),
        ("action.", Action),
        ("role.", Role),
        ("tstate.", State),
        ("outcome.", Outcome),
        ("quality.", Quality),
        ("status.", ApplicationStatus),
        ("molrole.", MolRole),
        ("decision.", DecisionKind),
    ):
        for member in enum:
            assert prefix + member.value in i18n.MESSAGES
    for action in (
        "create",
        "assign_device",
        "grant",
        "revoke_grant",
        "unassign_device",
    ):
        assert "audit." + action in i18n.MESSAGES
    for sector in SECTORS:
        assert "sector." + sector in i18n.MESSAGES
    for name in RANGES:
        assert "range." + name in i18n.MESSAGES
    for role in ("operator", "viewer"):
        assert f"nav.trials.{role}" in i18n.MESSAGES
        assert f"trials.title.{role}" in i18n.MESSAGES
    # criterion.<key>: tests/governance/test_report.py checks each of the milestone's criteria.
    for name in (*TEXT_FIELDS, "site_ids", "partners", "personal_data"):
        assert "field." + name in i18n.MESSAGES
    assert i18n.translate("en", "state.approved") == "approved"
    assert i18n.translate("sl", "state.approved") == "odobren"
    assert i18n.translate("sl", "trial.number", id=7) == "Preizkus št. 7"


# CSRF.


def test_forms_without_the_csrf_token_are_refused(client, world):
    page = client.get("/")
    refused = client.post("/signin", data={"token": world.tokens["partner"]})
    assert refused.status_code == 403
    assert "Obrazec je potekel" in refused.text
    sign_in(client, world, "partner")
    form = client.get("/trials/new?lang=en")
    for token in ("", "x" * 43, csrf_of(page.text)[::-1]):
        answer = client.post("/trials/new", data=_form(token))
        assert answer.status_code == 403, token
        assert "The form has expired" in answer.text
    assert "Noise map" not in client.get("/trials").text
    # The token of this browser works.
    created = client.post("/trials/new", data=_form(csrf_of(form.text)))
    assert created.status_code == 200
    assert "Noise map of Prešernov trg" in created.text


def test_a_form_from_another_browser_is_refused(client, world):
    sign_in(client, world, "partner")
    with psycopg.connect(world.dsn) as conn:
        trial_id = make_trial(conn, "startup-a")
    theirs = client.get(f"/trials/{trial_id}").text
    # This browser's cookie is another one than the token in the form.
    client.cookies.delete("livinglab_csrf")
    client.cookies.set("livinglab_csrf", "another-browsers-token-" + "y" * 30)
    answer = client.post(
        f"/trials/{trial_id}", data={"csrf": csrf_of(theirs), "action": "submit"}
    )
    assert answer.status_code == 403
    assert "state-draft" in client.get(f"/trials/{trial_id}").text


# Access.


@pytest.mark.parametrize("who", ["viewer", "partner"])
def test_only_operators_see_the_approval_queue(client, world, who):
    sign_in(client, world, who)
    answer = client.get("/queue")
    assert answer.status_code == 403
    assert "Dostop ni dovoljen" in answer.text
    assert 'href="/queue"' not in client.get("/trials").text
    english = client.get("/queue?lang=en")
    assert "Access denied" in english.text


def test_viewers_cannot_open_the_registration_form(client, world):
    sign_in(client, world, "viewer")
    assert client.get("/trials/new").status_code == 403
    assert 'href="/trials/new"' not in client.get("/trials").text


def test_a_partner_cannot_see_a_foreign_trial(client, world):
    with psycopg.connect(world.dsn) as conn:
        foreign = make_trial(conn, "startup-b", state="submitted")
    sign_in(client, world, "partner")
    answer = client.get(f"/trials/{foreign}")
    assert answer.status_code == 404
    assert "Ni najdeno" in answer.text
    assert "Low-cost PM sensors" not in answer.text
    assert client.get("/trials/not-a-number?lang=en").status_code == 404
    assert "Low-cost PM sensors" not in client.get("/trials").text
    acted = client.post(
        f"/trials/{foreign}",
        data={"csrf": csrf_of(answer.text), "action": "withdraw", "reason": "mine"},
    )
    assert acted.status_code == 404


# The registration form.


def test_form_errors_name_the_field_and_keep_the_input(client, world):
    sign_in(client, world, "partner")
    csrf = csrf_of(client.get("/trials/new").text)
    answer = client.post(
        "/trials/new",
        data=_form(
            csrf,
            title="ab",
            technology="",
            trl_start="6",
            trl_target="4",
            starts_on="2027-06-30",
            ends_on="2027-03-01",
            personal_data="yes",
        ),
    )
    assert answer.status_code == 422
    page = answer.text
    assert "Preizkus ni shranjen" in page
    assert re.search(r'id="title-error">Vpišite vsaj 3 znake', page)
    assert re.search(r'id="technology-error">To polje je obvezno', page)
    assert 'href="#title"' in page
    assert 'value="ab"' in page
    assert "Eight microphones on lamp posts</textarea>" in page
    assert re.search(r'<option value="6" selected>6</option>', page)
    assert re.search(r'value="ul-fe" checked', page)
    assert re.search(r'value="yes" checked', page)
    # The ranges are checked once the fields parse.
    again = client.post(
        "/trials/new?lang=en",
        data=_form(
            csrf, trl_start="6", trl_target="4", starts_on="2027-06-30", ends_on=""
        ),
    )
    assert again.status_code == 422
    assert re.search(r'id="ends_on-error">This field is required', again.text)
    ranges = client.post(
        "/trials/new?lang=en", data=_form(csrf, trl_start="6", trl_target="4")
    )
    assert re.search(
        r'id="trl_target-error">The target TRL must not be below', ranges.text
    )
    with psycopg.connect(world.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM trials").fetchone() == (0,)


def test_an_unknown_site_is_named_next_to_the_sites(client, world):
    sign_in(client, world, "partner")
    csrf = csrf_of(client.get("/trials/new").text)
    answer = client.post("/trials/new", data=_form(csrf, site_ids=["site-9"]))
    assert answer.status_code == 400
    assert re.search(
        r"id=\"site_ids-error\">site 'site-9' does not exist",
        html.unescape(answer.text),
    )


def test_register_submit_and_approve_through_the_pages(client, world):
    sign_in(client, world, "partner")
    csrf = csrf_of(client.get("/trials/new").text)
    created = client.post("/trials/new", data=_form(csrf))
    assert created.status_code == 200
    trial_path = created.url.path
    assert re.fullmatch(r"/trials/\d+", trial_path)
    assert "shranjen kot osnutek" in created.text
    assert "state-draft" in created.text
    assert "Oddaj v odobritev" in created.text
    assert "UL Fakulteta za elektrotehniko" in created.text
    submitted = client.post(trial_path, data={"csrf": csrf, "action": "submit"})
    assert submitted.status_code == 200
    assert 'data-state="submitted"' in submitted.text
    assert "Stanje preizkusa je zdaj: oddan" in submitted.text
    # Approving is not the partner's to do.
    refused = client.post(trial_path, data={"csrf": csrf, "action": "approve"})
    assert refused.status_code == 403

    client.cookies.clear()
    sign_in(client, world, "operator")
    queue = client.get("/queue")
    assert "Noise map of Prešernov trg" in queue.text
    csrf = csrf_of(queue.text)
    trial_id = trial_path.rsplit("/", 1)[1]
    # Rejecting needs a reason: the form comes back with the message next to it.
    no_reason = client.post(trial_path, data={"csrf": csrf, "action": "reject"})
    assert no_reason.status_code == 400
    assert "Vpišite utemeljitev." in no_reason.text
    assert '<details class="reason-form" open>' in no_reason.text
    approved = client.post(
        trial_path, data={"csrf": csrf, "action": "approve", "next": "queue"}
    )
    assert approved.url.path == "/queue"
    assert "je zdaj v stanju: odobren" in approved.text
    assert "Noise map of Prešernov trg" in approved.text  # in the notice only
    assert f'href="/trials/{trial_id}"' not in approved.text
    page = client.get(f"{trial_path}?lang=en")
    assert 'data-state="approved"' in page.text
    # Each line says what it changed: the trial registered, from which state to which.
    for line in (
        "registered “Noise map of Prešernov trg”",
        "submitted (draft → submitted)",
        "approved (submitted → approved)",
    ):
        assert f'data-label="What">{line}</td>' in page.text, line


# Devices and charts.


def test_the_trial_page_draws_a_chart_per_sensor(client, world):
    trial_id, sensor = approved_trial_with_readings(world.dsn)
    sign_in(client, world, "partner")
    page = client.get(f"/trials/{trial_id}")
    assert page.status_code == 200
    figure = re.search(
        rf'<figure class="chart" data-sensor="{sensor}" data-count="(\d+)">(.*?)</figure>',
        page.text,
        re.S,
    )
    assert figure is not None, page.text
    # Five-minute buckets over the last day, but for the hour's outage.
    assert 250 < int(figure.group(1)) <= 289
    path = re.search(r'<path class="line" d="([^"]*)"', figure.group(2))
    assert path is not None
    assert path.group(1).startswith("M")
    assert path.group(1).count("L") > 200
    assert path.group(1).count("M") == 2  # the outage breaks the line
    assert "delci PM2,5" in figure.group(2)
    assert "µg/m³" in figure.group(2)
    assert "čas v Ljubljani (CET)" in figure.group(2)
    assert '<script src="/static/chart.js" defer></script>' in page.text
    assert client.get("/static/chart.js").status_code == 200
    # The drawing the script fetches answers with the same cookie, for the range shown.
    part = client.get(f"/trials/{trial_id}/charts?range=7d")
    assert part.status_code == 200, part.text
    assert f'data-sensor="{sensor}"' in part.text
    assert "<html" not in part.text
    week = client.get(f"/trials/{trial_id}?range=7d")
    assert 'href="?range=7d#data-title" aria-current="true"' in week.text


def test_devices_show_online_state_and_completeness(client, world):
    approved_trial_with_readings(world.dsn)
    with psycopg.connect(world.dsn) as conn:
        add_device(conn, "dev-quiet", "startup-a")
        conn.commit()
    sign_in(client, world, "partner")
    page = client.get("/devices?lang=en")
    assert page.status_code == 200
    rows = dict(re.findall(r'<tr data-device="([^"]+)">(.*?)</tr>', page.text, re.S))
    assert set(rows) == {"dev-a", "dev-quiet"}
    assert 'class="dot online"' in rows["dev-a"]
    assert "90.0%" in rows["dev-a"]
    assert ">3<" in rows["dev-a"]
    assert 'class="dot never"' in rows["dev-quiet"]
    assert "never heard" in rows["dev-quiet"]


def test_the_sign_in_cookie_reads_the_api_but_changes_nothing(client, world):
    sign_in(client, world, "partner")
    assert client.get("/api/v1/me").json()["organisation_id"] == "startup-a"
    # A cross-site form posting to the API with the cookie attached is refused.
    created = client.post(
        "/api/v1/trials",
        json={
            "title": "Forged trial",
            "technology": "none",
            "trl_start": 1,
            "trl_target": 2,
            "starts_on": "2027-01-01",
            "ends_on": "2027-02-01",
        },
    )
    assert created.status_code == 401
    assert "Bearer" in created.json()["detail"]
