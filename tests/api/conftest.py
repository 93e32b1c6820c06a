"""API fixtures: the application on a fresh database, a seeded world, and its broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from livinglab_platform.api import create_app
from livinglab_platform.core.settings import ApiSettings, BrokerSettings
from tests.api.world import World, seed
from tests.conftest import Broker


@pytest.fixture
def world(dsn: str) -> World:
    return seed(dsn)


def broker_settings(broker: Broker | None) -> BrokerSettings:
    if broker is None:
        # No broker: device registration answers 502, everything else works.
        return BrokerSettings(
            mqtt_host="127.0.0.1", mqtt_port=1, mqtt_admin_password="x"
        )
    return BrokerSettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_admin_password=broker.server.admin_password,
        mqtt_platform_password=broker.platform_password,
    )


@pytest.fixture
def client(world: World, api_dsn: str) -> Iterator[TestClient]:
    """The API on the world's database (as the API's role), without a broker."""
    app = create_app(ApiSettings(database_url=api_dsn), broker_settings(None))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def broker_client(world: World, api_dsn: str, broker: Broker) -> Iterator[TestClient]:
    """The API on the world's database with a real broker behind device registration."""
    app = create_app(ApiSettings(database_url=api_dsn), broker_settings(broker))
    with TestClient(app) as test_client:
        yield test_client
