"""The CLI's human output names quantities as people write them: no raw key or ASCII unit
where the quantity table has a label (tests/raw_keys.py)."""

from __future__ import annotations

import psycopg

from tests.raw_keys import raw_words
from tests.web.conftest import DEMO_SENSORS


def test_devices_list_shows_labels_and_units(livinglab, dsn):
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO sites (id, name) VALUES ('tp', 'Tehnološki park')")
        for device_id, sensors in DEMO_SENSORS.items():
            conn.execute(
                "INSERT INTO devices (id, site_id) VALUES (%s, 'tp')", (device_id,)
            )
            for key, unit, _, _ in sensors:
                conn.execute(
                    "INSERT INTO sensors (device_id, key, quantity, unit)"
                    " VALUES (%s, %s, %s, %s)",
                    (device_id, key, key, unit),
                )
    listed = livinglab("devices", "list").stdout
    assert raw_words(listed) == [], listed
    for words in ("relative humidity (%)", "PM2.5 particles (µg/m³)", "dB(A)"):
        assert words in listed, listed
