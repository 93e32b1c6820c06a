"""docker-compose.yml cannot run here (no Docker engine); these checks catch what breaks it.

The file is validated against the Compose Specification's JSON schema, vendored as
tests/deploy/compose-spec.json from https://github.com/compose-spec/compose-spec,
schema/compose-spec.json at commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6 (2026-06-23).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "deploy" / "compose-spec.json"
# ${NAME}, ${NAME:?message}, ${NAME:-default}; `$$` is a literal dollar.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(?:(:\?|:-)([^}]*))?\}")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {pair[0]: pair[1] for pair in pairs}


def test_the_file_follows_the_compose_specification():
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(_compose(), schema, cls=jsonschema.Draft7Validator)


def test_the_schema_check_catches_a_mistake():
    """The validation can fail: a misspelt key and a wrong type are both refused."""
    schema = json.loads(SCHEMA.read_text())
    broken = _compose()
    broken["services"]["api"]["healthchek"] = broken["services"]["api"].pop(
        "healthcheck"
    )
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(broken))
    assert errors
    broken = _compose()
    broken["services"]["api"]["ports"] = "8000:8000"
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_every_variable_is_in_env_example():
    example = _env_example()
    for name, _, _ in VARIABLE.findall(COMPOSE.read_text()):
        assert name in example, f"${{{name}}} is not in .env.example"
    # No secret ships a value in the example.
    for name, value in example.items():
        if "PASSWORD" in name:
            assert value == "", f"{name} has a value in .env.example"


def test_every_reference_exists():
    """Build contexts, Dockerfiles, mounted files and folders, and the files commands run."""
    for name, service in _compose()["services"].items():
        build = service.get("build")
        if build:
            context = ROOT / build["context"]
            assert context.is_dir(), f"{name}: no build context {context}"
            assert (context / build["dockerfile"]).is_file(), f"{name}: no Dockerfile"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and not source.endswith("certs"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
        for word in [*service.get("entrypoint", []), *service.get("command", [])]:
            for path in re.findall(r"/deploy/[\w./-]+", str(word)):
                assert (ROOT / path.lstrip("/")).is_file(), (
                    f"{name} runs missing {path}"
                )
    assert (ROOT / "broker" / "mosquitto.prod.conf").is_file()


def test_the_stack_has_its_services():
    services = _compose()["services"]
    assert {"timescaledb", "mosquitto", "setup", "ingest", "api", "grafana"} <= set(
        services
    )


def test_every_secret_must_be_set():
    """A password has no default: `${NAME:?message}` stops compose while it is unset or empty.
    Only a few settings that are not secrets carry a default."""
    variables = VARIABLE.findall(COMPOSE.read_text())
    assert variables
    for name, form, message in variables:
        if form == ":-":
            assert name in {"GRAFANA_DB_SSLMODE", "RAW_RETENTION_DAYS"}, name
        else:
            assert form == ":?", f"${{{name}}} needs :?message"
            assert name in message, f"${{{name}}}'s message should name it"


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
    for command in ("db upgrade", "broker bootstrap", "db retention"):
        group, sub = command.split()
        assert sub in cli.commands[group].commands  # type: ignore[attr-defined]
        service = "retention" if command == "db retention" else "setup"
        assert command in services[service]["command"][0]


def _database_user(service: dict) -> str:
    from psycopg.conninfo import conninfo_to_dict

    url = VARIABLE.sub("secret", service["environment"]["LIVINGLAB_DATABASE_URL"])
    return str(conninfo_to_dict(url)["user"])


def test_each_service_connects_as_its_own_login():
    """Only `setup` (migrations, logins) is the superuser; each service has a login in its role."""
    services = _compose()["services"]
    assert _database_user(services["setup"]) == "postgres"
    setup = services["setup"]["command"][0]
    assert _database_user(services["retention"]) == "postgres"  # drop_chunks: the owner
    for service, login, role in [
        ("api", "api", "api"),
        ("ingest", "ingest", "ingest"),
        ("grafana", '"$$GRAFANA_DB_USER"', "readonly"),
    ]:
        assert f"livinglab db login {login} --role {role}" in setup
        if service != "grafana":
            assert _database_user(services[service]) == login
            assert "POSTGRES_PASSWORD" not in str(services[service]["environment"])
    datasource = yaml.safe_load(
        (ROOT / "dashboards/provisioning/datasources/timescaledb.yaml").read_text()
    )["datasources"][0]
    assert datasource["user"] == "${GRAFANA_DB_USER}"
    assert "GRAFANA_DB_USER" in services["grafana"]["environment"]
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


def test_the_image_copies_what_exists_and_is_not_ignored():
    """platform/Dockerfile's COPY sources exist in the build context, and .dockerignore keeps
    them (and keeps .env, with its secrets, out of the image)."""
    dockerfile = (ROOT / "platform" / "Dockerfile").read_text()
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ".env" in ignored
    sources = [
        line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source not in ignored, source
