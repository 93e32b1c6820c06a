"""`livinglab dashboards push` against a loopback server of Grafana's routes (grafana_stub.py).

Not a real Grafana: none can run here. The stub answers as Grafana's legacy HTTP API documents,
and records each request, so the tests see exactly what the push wrote.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from livinglab_platform.cli import app, terminal
from tests.deploy.grafana_stub import GrafanaStub

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "glsa_" + secrets.token_hex(16)
DB_PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture
def grafana() -> Iterator[GrafanaStub]:
    with GrafanaStub(TOKEN) as stub:
        yield stub


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the fixture dashboards that a test may change."""
    target = tmp_path / "json"
    shutil.copytree(FIXTURES, target)
    return target


def _push(url: str, folder: Path, *, token: str = TOKEN, code: int = 0) -> Result:
    terminal.console.width = 300
    terminal.err.width = 300
    result = CliRunner().invoke(
        app,
        ["dashboards", "push", "--url", url, "--dir", str(folder)],
        env={"GRAFANA_TOKEN": token, "GRAFANA_DB_PASSWORD": DB_PASSWORD},
    )
    assert result.exit_code == code, f"{result.output}\n{result.exception!r}"
    # The token and the database password never reach the terminal.
    assert token not in result.output
    assert DB_PASSWORD not in result.output
    return result


def test_first_push_creates_everything(grafana: GrafanaStub, folder: Path) -> None:
    out = _push(grafana.url, folder).output
    assert "created datasource livinglab-timescaledb" in out
    assert "created folder livinglab" in out
    assert "created dashboard livinglab-test-site" in out
    assert sorted(grafana.state.writes) == [
        ("POST", "/api/dashboards/db"),
        ("POST", "/api/dashboards/db"),
        ("POST", "/api/datasources"),
        ("POST", "/api/folders"),
    ]
    datasource = grafana.state.datasources["livinglab-timescaledb"]
    assert datasource["type"] == "grafana-postgresql-datasource"
    assert datasource["jsonData"]["timescaledb"] is True
    assert grafana.state.passwords["livinglab-timescaledb"] == DB_PASSWORD
    assert {d["meta"]["folderUid"] for d in grafana.state.dashboards.values()} == {
        "livinglab"
    }


def test_second_push_changes_nothing(grafana: GrafanaStub, folder: Path) -> None:
    _push(grafana.url, folder)
    grafana.state.requests.clear()
    out = _push(grafana.url, folder).output
    assert "nothing changed" in out
    assert grafana.state.writes == []
    # It did look: the data source, the folder, each dashboard and the folder's listing.
    assert ("GET", "/api/dashboards/uid/livinglab-test-site") in grafana.state.requests
    assert ("GET", "/api/search") in grafana.state.requests


def test_a_changed_dashboard_updates_only_that_one(
    grafana: GrafanaStub, folder: Path
) -> None:
    _push(grafana.url, folder)
    path = folder / "site.json"
    model = json.loads(path.read_text())
    model["panels"][0]["title"] = "Temperatura zraka (°C)"
    path.write_text(json.dumps(model))
    grafana.state.requests.clear()
    out = _push(grafana.url, folder).output
    assert grafana.state.writes == [("POST", "/api/dashboards/db")]
    assert "updated dashboard livinglab-test-site" in out
    assert "livinglab-test-fleet" not in out
    saved = grafana.state.dashboards["livinglab-test-site"]["dashboard"]
    assert saved["panels"][0]["title"] == "Temperatura zraka (°C)"
    assert saved["version"] == 2


def test_a_dashboard_in_the_folder_but_no_file_is_left_alone(
    grafana: GrafanaStub, folder: Path
) -> None:
    _push(grafana.url, folder)
    (folder / "fleet.json").unlink()
    out = _push(grafana.url, folder).output
    assert "left alone: dashboard livinglab-test-fleet" in out
    assert "livinglab-test-fleet" in grafana.state.dashboards


def test_a_bad_token_is_refused_clearly(grafana: GrafanaStub, folder: Path) -> None:
    bad = "glsa_" + secrets.token_hex(16)
    result = _push(grafana.url, folder, token=bad, code=2)
    assert "Grafana refused the token (401 Unauthorized)" in result.output
    assert grafana.state.writes == []


def test_an_unreachable_grafana_is_named(folder: Path) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _push(f"http://127.0.0.1:{port}", folder, code=2)
    assert "cannot reach Grafana" in result.output


def test_a_dashboard_without_uid_is_refused(grafana: GrafanaStub, folder: Path) -> None:
    (folder / "broken.json").write_text(json.dumps({"title": "Brez uid"}))
    result = _push(grafana.url, folder, code=2)
    assert "broken.json: a dashboard needs a uid and a title" in result.output
    assert grafana.state.requests == []


def test_the_repository_dashboards_push_and_push_again_unchanged(
    grafana: GrafanaStub,
) -> None:
    """Whatever dashboards/json holds (the generated dashboards) goes in whole, then stays."""
    folder = Path(__file__).resolve().parents[2] / "dashboards" / "json"
    files = sorted(folder.glob("*.json"))
    _push(grafana.url, folder)
    assert len(grafana.state.dashboards) == len(files)
    for path in files:
        uid = json.loads(path.read_text())["uid"]
        assert grafana.state.dashboards[uid]["meta"]["folderUid"] == "livinglab"
    grafana.state.requests.clear()
    assert "nothing changed" in _push(grafana.url, folder).output
    assert grafana.state.writes == []
