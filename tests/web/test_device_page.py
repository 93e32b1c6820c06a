"""The device page /devices/{id}: what it shows to whom, in both languages, and its configuration
form (CSRF, refusals next to the field, published retained)."""

from __future__ import annotations

import re

import psycopg
import pytest
from fastapi.testclient import TestClient

from livinglab_platform.api import create_app
from livinglab_platform.core.settings import ApiSettings
from tests.api.conftest import broker_settings
from tests.api.world import add_device
from tests.web.conftest import approved_trial_with_readings, csrf_of, sign_in


@pytest.fixture
def dev_a(world):
    """dev-a of startup-a: an approved trial, readings, a heartbeat, a gap at seq 5 explained by a
    quarantined batch that claimed it, and an event."""
    trial_id, _sensor = approved_trial_with_readings(world.dsn)
    with psycopg.connect(world.dsn) as conn:
        conn.execute(
            "INSERT INTO quarantine (topic, device_id, reason, payload, claimed_seq) VALUES"
            " ('livinglab/v1/dev-a/telemetry', 'dev-a', 'binary frame ends inside its keys',"
            " 'LL', 5)"
        )
        conn.execute(
            "INSERT INTO device_events (device_id, type, revision, message)"
            " VALUES ('dev-a', 'config_rejected', 3, 'unknown sensor ''ghost''')"
        )
        conn.commit()
    return trial_id


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("sl", ["Dostava podatkov", "delci PM2,5", "µg/m³", "(CET)", "Karantena"]),
        ("en", ["Delivery", "PM2.5", "µg/m³", "(CET)", "Quarantine"]),
    ],
)
def test_the_owner_sees_everything_in_both_languages(client, world, dev_a, lang, words):
    sign_in(client, world, "partner")
    page = client.get(f"/devices/dev-a?lang={lang}")
    assert page.status_code == 200, page.text
    text = page.text
    for word in words:
        assert word in text, word
    assert "ug/m3" not in text
    assert f'href="/trials/{dev_a}"' in text
    assert "binary frame ends inside its keys" in text
    # The gap at seq 5 links to the quarantined batch that claimed it.
    [entry] = re.findall(r'id="quarantine-(\d+)"', text)
    assert f'href="#quarantine-{entry}"' in text
    assert "unknown sensor &#39;ghost&#39;" in text
    assert 'name="heartbeat_interval_s"' in text


def test_the_devices_table_links_the_page(client, world, dev_a):
    sign_in(client, world, "partner")
    assert 'href="/devices/dev-a"' in client.get("/devices").text


def test_a_viewer_sees_no_quarantine_no_values_and_no_form(client, world, dev_a):
    sign_in(client, world, "viewer")
    text = client.get("/devices/dev-a?lang=en").text
    assert "binary frame ends inside its keys" not in text
    assert 'id="quarantine-title"' not in text
    assert "Latest values are shown to the device&#39;s owner" in text
    assert '<form method="post" action="/devices/dev-a"' not in text
    # Nor may they post the form.
    csrf = (
        csrf_of(client.get("/trials").text)
        if "csrf" in client.get("/trials").text
        else ""
    )
    del csrf


def test_another_organisations_device_is_not_found(client, world):
    """The attack: a partner opens another organisation's device page (failed before: no page)."""
    with psycopg.connect(world.dsn) as conn:
        add_device(conn, "dev-b", "startup-b")
        conn.execute(
            "INSERT INTO quarantine (topic, device_id, reason, payload)"
            " VALUES ('livinglab/v1/dev-b/telemetry', 'dev-b', 'secret of b', 'x')"
        )
        conn.commit()
    sign_in(client, world, "partner")
    page = client.get("/devices/dev-b")
    assert page.status_code == 404
    assert "secret of b" not in page.text


@pytest.fixture
def broker_pages(world, api_dsn, broker):
    app = create_app(ApiSettings(database_url=api_dsn), broker_settings(broker))
    with TestClient(app) as test_client:
        yield test_client


def test_the_form_refuses_next_to_the_field_and_publishes(broker_pages, world, dev_a):
    client = broker_pages
    sign_in(client, world, "partner")
    page = client.get("/devices/dev-a?lang=en")
    form = {"csrf": csrf_of(page.text), "heartbeat_interval_s": "0.5", "sensor": "",
            "interval_s": "", "enabled": "", "batch_size": "", "batch_max_age_s": ""}  # fmt: skip
    refused = client.post("/devices/dev-a", data=form)
    assert refused.status_code == 400, refused.text
    assert 'id="cfg-heartbeat_interval_s-error"' in refused.text
    assert 'value="0.5"' in refused.text
    without_csrf = client.post("/devices/dev-a", data={**form, "csrf": ""})
    assert without_csrf.status_code == 403
    done = client.post(
        "/devices/dev-a", data={**form, "heartbeat_interval_s": "15", "sensor": "pm",
                                "enabled": "no"},
    )  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.url.path == "/devices/dev-a"
    assert 'data-state="pending"' in done.text
    assert (
        "&#34;heartbeat_interval_s&#34;: 15.0" in done.text
        or "heartbeat_interval_s" in done.text
    )
    with psycopg.connect(world.dsn) as conn:
        row = conn.execute(
            "SELECT revision, document FROM device_configs WHERE device_id = 'dev-a'"
        ).fetchone()
    assert row == (
        1,
        {
            "v": 1,
            "revision": 1,
            "heartbeat_interval_s": 15.0,
            "sensors": {"pm": {"enabled": False}},
        },
    )
