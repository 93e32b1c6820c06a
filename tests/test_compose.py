"""docker-compose.yml cannot run here (no Docker engine); these checks catch what breaks it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_stack_has_its_services():
    services = _compose()["services"]
    assert {"timescaledb", "mosquitto", "setup", "ingest", "api", "grafana"} <= set(
        services
    )


def test_every_variable_must_be_set():
    text = COMPOSE.read_text()
    variables = re.findall(r"(?<!\$)\$\{([^}]+)\}", text)
    assert variables
    for variable in variables:
        assert variable.endswith(":?missing"), f"${{{variable}}} needs :?missing"


def test_mounted_files_exist():
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and not source.endswith("certs"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_platform_commands_exist():
    from typer.main import get_command

    from livinglab_platform.cli import app

    cli = get_command(app)
    services = _compose()["services"]
    assert "ingest" in cli.commands  # type: ignore[attr-defined]
    assert services["ingest"]["command"] == ["ingest"]
    assert "api" in cli.commands  # type: ignore[attr-defined]
    assert services["api"]["command"][0] == "api"
    for command in ("db upgrade", "broker bootstrap"):
        group, sub = command.split()
        assert sub in cli.commands[group].commands  # type: ignore[attr-defined]
        assert command in services["setup"]["command"][0]


def _database_user(service: dict) -> str:
    from psycopg.conninfo import conninfo_to_dict

    url = service["environment"]["LIVINGLAB_DATABASE_URL"]
    return str(
        conninfo_to_dict(url.replace("${", "").replace(":?missing}", ""))["user"]
    )


def test_each_service_connects_as_its_own_login():
    """Only `setup` (migrations, logins) is the superuser; each service has a login in its role."""
    services = _compose()["services"]
    assert _database_user(services["setup"]) == "postgres"
    setup = services["setup"]["command"][0]
    for service, login, role in [
        ("api", "api", "api"),
        ("ingest", "ingest", "ingest"),
        ("grafana", "grafana", "readonly"),
    ]:
        assert f"livinglab db login {login} --role {role}" in setup
        if service != "grafana":
            assert _database_user(services[service]) == login
            assert "POSTGRES_PASSWORD" not in str(services[service]["environment"])
    datasource = yaml.safe_load(
        (ROOT / "dashboards/provisioning/datasources/timescaledb.yaml").read_text()
    )["datasources"][0]
    assert datasource["user"] == "grafana"
    assert "POSTGRES_PASSWORD" not in str(services["grafana"]["environment"])


def test_service_identities_are_valid_settings():
    """The stack's broker names pass the settings' check: no device id can take them."""
    from livinglab_platform.core.settings import BrokerSettings, IngestSettings

    services = _compose()["services"]
    env = {**services["ingest"]["environment"]}
    ingest = IngestSettings(
        mqtt_user=env["LIVINGLAB_MQTT_USER"],
        ingest_client_id=env["LIVINGLAB_INGEST_CLIENT_ID"],
    )
    broker = BrokerSettings(mqtt_admin_user=env["LIVINGLAB_MQTT_ADMIN_USER"])
    assert ingest.mqtt_user.startswith("livinglab.")
    # The admin that broker-init creates is the one the platform logs in as.
    init = services["broker-init"]["command"][0]
    assert f" {broker.mqtt_admin_user} " in init
