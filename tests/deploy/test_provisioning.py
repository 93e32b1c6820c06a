"""Grafana's provisioning files agree with the compose stack and with the dashboards.

Grafana itself cannot run here: these check what it would read. The dashboards are whatever
`dashboards/json/*.json` holds (none until the dashboards are generated), and this folder's
fixtures, which reference the data source the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from livinglab_platform.grafana.push import (
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    FOLDER_TITLE,
    FOLDER_UID,
    datasource_model,
    load_dashboards,
)

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "dashboards" / "provisioning"
FIXTURES = Path(__file__).parent / "fixtures"


def _datasource() -> dict:
    document = yaml.safe_load(
        (PROVISIONING / "datasources" / "timescaledb.yaml").read_text()
    )
    assert document["apiVersion"] == 1
    (datasource,) = document["datasources"]
    return dict(datasource)


def _provider() -> dict:
    document = yaml.safe_load(
        (PROVISIONING / "dashboards" / "livinglab.yaml").read_text()
    )
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    return dict(provider)


def _grafana() -> dict:
    return dict(
        yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    )


def test_the_data_source_is_timescaledb_read_only() -> None:
    datasource = _datasource()
    assert datasource["type"] == DATASOURCE_TYPE == "grafana-postgresql-datasource"
    assert datasource["uid"] == DATASOURCE_UID == "livinglab-timescaledb"
    assert datasource["jsonData"]["timescaledb"] is True
    assert datasource["jsonData"]["postgresVersion"] == 1500
    assert datasource["jsonData"]["database"] == "livinglab"
    assert datasource["user"] == "${GRAFANA_DB_USER}"
    assert datasource["secureJsonData"]["password"] == "${GRAFANA_DB_PASSWORD}"
    assert datasource["jsonData"]["sslmode"] == "${GRAFANA_DB_SSLMODE}"


def test_every_variable_grafana_reads_is_in_its_environment() -> None:
    text = (PROVISIONING / "datasources" / "timescaledb.yaml").read_text()
    environment = _grafana()["environment"]
    for name in re.findall(r"\$\{([A-Z0-9_]+)\}", text):
        assert name in environment, f"grafana's environment lacks {name}"


def test_the_push_writes_the_same_data_source_as_provisioning() -> None:
    """`livinglab dashboards push` and the provisioned stack give Grafana one data source."""
    pushed = datasource_model(
        url="timescaledb:5432", user="grafana", database="livinglab", sslmode="disable"
    )
    provisioned = _datasource()
    for key in ("uid", "type", "access", "url"):
        assert pushed[key] == provisioned[key], key
    for key in ("database", "postgresVersion", "timescaledb", "timeInterval"):
        assert pushed["jsonData"][key] == provisioned["jsonData"][key], key


def test_the_provider_reads_the_mounted_dashboards() -> None:
    provider = _provider()
    assert provider["type"] == "file"
    assert provider["folder"] == FOLDER_TITLE == "livinglab"
    assert provider["folderUid"] == FOLDER_UID
    mounts = dict(volume.split(":")[:2] for volume in _grafana()["volumes"])
    assert mounts["./dashboards/json"] == provider["options"]["path"]
    assert (
        mounts["./dashboards/provisioning/dashboards"]
        == "/etc/grafana/provisioning/dashboards"
    )
    assert (
        mounts["./dashboards/provisioning/datasources"]
        == "/etc/grafana/provisioning/datasources"
    )
    assert (ROOT / "dashboards" / "json").is_dir()


def _references(node: object) -> Iterator[dict]:
    """Every `datasource` object anywhere in a dashboard (panels, targets, variables)."""
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            yield node["datasource"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


@pytest.mark.parametrize("folder", [ROOT / "dashboards" / "json", FIXTURES])
def test_dashboards_reference_the_provisioned_data_source(folder: Path) -> None:
    uid = _datasource()["uid"]
    for dashboard in load_dashboards(folder):
        assert dashboard["uid"]
        assert dashboard["title"].strip()
        for reference in _references(dashboard):
            # A `${datasource}` variable or Grafana's built-in annotations source is fine too.
            if reference.get("type") == DATASOURCE_TYPE:
                assert reference.get("uid") == uid, f"{dashboard['uid']}: {reference}"


def test_dashboard_files_are_bare_models() -> None:
    """The provider reads the bare dashboard model: no API wrapper, no numeric id."""
    for path in [
        *(ROOT / "dashboards" / "json").glob("*.json"),
        *FIXTURES.glob("*.json"),
    ]:
        model = json.loads(path.read_text())
        assert "dashboard" not in model, path
        assert model.get("id") is None, path
