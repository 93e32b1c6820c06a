"""No device id can equal a service's username or client id (security review: ingest takeover).

The services' identities are `livinglab.` names, which the device-id grammar cannot produce; the
settings refuse others at start, the broker admin makes device clients for device ids only, and
`livinglab broker check` reports the clients on a live broker that break the rule.
"""

from __future__ import annotations

import itertools
import secrets

import pytest
from pydantic import ValidationError

from livinglab_edge_agent.wire import DEVICE_ID_PATTERN
from livinglab_platform.core import dynsec as broker_admin
from livinglab_platform.core.errors import InvalidInputError
from livinglab_platform.core.identities import (
    ADMIN_CLIENT_PREFIX,
    SERVICE_ID_PATTERN,
    ServiceIdentities,
    check_client,
    is_service_id,
)
from livinglab_platform.core.settings import BrokerSettings, IngestSettings
from tests.broker.test_devices_cli import _livinglab

# Every service identity as it is configured by default: usernames and client ids.
DEFAULTS = ServiceIdentities()
SERVICE_NAMES = [
    BrokerSettings.model_fields["mqtt_admin_user"].default,
    IngestSettings.model_fields["mqtt_user"].default,
    IngestSettings.model_fields["ingest_client_id"].default,
    DEFAULTS.platform_user,
    f"{ADMIN_CLIENT_PREFIX}0123abcd",
]


def test_no_name_is_both_a_device_id_and_a_service_id():
    # Every string of up to three characters over an alphabet with each class the grammars
    # treat differently, prefixed as a service name would be and bare.
    alphabet = "a0_-.:A/+# "
    for n in range(4):
        for chars in itertools.product(alphabet, repeat=n):
            tail = "".join(chars)
            for name in (tail, "livinglab" + tail, "livinglab." + tail):
                assert not (DEVICE_ID_PATTERN.match(name) and is_service_id(name)), name
    for name in SERVICE_NAMES:
        assert SERVICE_ID_PATTERN.match(name), name
        assert not DEVICE_ID_PATTERN.match(name), name


@pytest.mark.parametrize(
    ("settings", "field", "variable", "value"),
    [
        (IngestSettings, "ingest_client_id", "LIVINGLAB_INGEST_CLIENT_ID", "ingest-1"),
        (IngestSettings, "mqtt_user", "LIVINGLAB_MQTT_USER", "ingest"),
        (BrokerSettings, "mqtt_admin_user", "LIVINGLAB_MQTT_ADMIN_USER", "admin"),
        (IngestSettings, "ingest_client_id", "LIVINGLAB_INGEST_CLIENT_ID", "tp-air-02"),
    ],
)
def test_settings_refuse_a_service_name_a_device_could_take(
    monkeypatch, settings, field, variable, value
):
    # The attack's configuration: the ingest's client id is a valid device id.
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable) as caught:
        settings()
    assert "is not a service identity" in str(caught.value)
    monkeypatch.setenv(variable, "livinglab.ingest-2")
    assert getattr(settings(), field) == "livinglab.ingest-2"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_no_device_client_is_made_under_a_service_identity(broker, name):
    with (
        broker.admin() as dynsec,
        pytest.raises(InvalidInputError, match="invalid device id"),
    ):
        broker_admin.create_device_client(
            dynsec, device_id=name, password=secrets.token_urlsafe(16)
        )
    with broker.admin() as dynsec:
        (role,) = dynsec.run(
            {"command": "getRole", "rolename": f"device-{name}"},
            ignore=("Role not found",),
        )
    assert role.get("error") == "Role not found"


@pytest.mark.parametrize(
    ("client", "finding"),
    [
        ({"username": "livinglab.ingest"}, None),
        ({"username": "tp-air-02", "clientid": "tp-air-02"}, None),
        ({"username": "ingest"}, "was a service's name"),
        ({"username": "ingest-1", "clientid": "livinglab.ingest-1"}, "the ingest's"),
        ({"username": "tp-air-02"}, "not pinned"),
        ({"username": "livinglab.platform", "clientid": "livinglab.ingest-1"}, "the ingest's"),
        ({"username": "livinglab.x", "clientid": "x"}, "outside the service namespace"),
        ({"username": "livinglab.ingest-1"}, "the ingest's client id"),
        ({"username": "Sensor.01"}, "neither a device id"),
    ],
)  # fmt: skip
def test_check_client_names_each_kind_of_clash(client, finding):
    problem = check_client(client, DEFAULTS)
    if finding is None:
        assert problem is None
    else:
        assert problem is not None
        assert finding in problem


def test_broker_check_is_clean_on_a_bootstrapped_broker(dsn, broker):
    broker.add_device("tp-air-02")
    # Yesterday's default client id of the ingest is an ordinary device id now.
    broker.add_device("ingest-1")
    result = _livinglab("broker", "check", dsn=dsn, broker=broker)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 finding(s)" in result.stdout


def test_broker_check_reports_clients_that_clash(dsn, broker):
    with broker.admin() as dynsec:
        dynsec.run(
            # A service client from before the namespace, as the old bootstrap made it.
            {"command": "createClient", "username": "ingest", "password": "x"},
            # The takeover: a device-like client pinned to the ingest's client id.
            {
                "command": "createClient",
                "username": "mallory",
                "password": "x",
                "clientid": DEFAULTS.ingest_client_id,
            },
            {"command": "createClient", "username": "Sensor.01", "password": "x"},
        )
    result = _livinglab("broker", "check", dsn=dsn, broker=broker)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if "│" in line]
    for username in ("ingest", "mallory", "Sensor.01"):
        assert any(f"│ {username} " in row for row in rows), result.stdout
    assert "3 finding(s)" in result.stdout
