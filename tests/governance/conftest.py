"""Governance fixtures: the API tests' world with every kind of organisation in it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from livinglab_platform.api import create_app
from livinglab_platform.core.settings import ApiSettings
from tests.api.conftest import broker_settings
from tests.api.world import World, seed
from tests.governance.record import add_organisations


@pytest.fixture
def world(dsn: str) -> World:
    world = seed(dsn)
    with psycopg.connect(dsn) as conn:
        add_organisations(conn)
    return world


@pytest.fixture
def conn(world: World) -> Iterator[psycopg.Connection]:
    with psycopg.connect(world.dsn) as connection:
        yield connection


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    app = create_app(ApiSettings(database_url=world.dsn), broker_settings(None))
    with TestClient(app) as test_client:
        yield test_client
