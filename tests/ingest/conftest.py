"""Fixtures of the ingest tests: registered devices with their MQTT clients, and a running service."""

from __future__ import annotations

import gc
from dataclasses import dataclass

import pytest

from livinglab_platform.ingest import IngestService
from tests.ingest.helpers import DeviceClient, ingest_settings, register_device


@dataclass
class Device:
    id: str
    password: str
    sensor_ids: dict[str, int]
    client: DeviceClient


@pytest.fixture
def make_device(dsn, broker):
    """Register a device (database and broker) and connect its client: `make_device("d1", keys)`."""
    clients = []

    def make(
        device_id="d1",
        keys=("t", "rh"),
        *,
        in_database=True,
        will=None,
        resend_after_s=3.0,
    ):
        sensor_ids = register_device(dsn, device_id, keys) if in_database else {}
        password = broker.add_device(device_id)
        client = DeviceClient(
            broker, device_id, password, will=will, resend_after_s=resend_after_s
        )
        clients.append(client)
        return Device(
            id=device_id, password=password, sensor_ids=sensor_ids, client=client
        )

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def start_ingest(ingest_dsn, broker):
    """Start an in-process IngestService on the test database (as the ingest role) and broker;
    stopped at teardown."""
    services = []

    def start(**overrides):
        service = IngestService(ingest_settings(ingest_dsn, broker, **overrides))
        service.start()
        services.append(service)
        return service

    yield start
    for service in services:
        service.stop(timeout_s=10)
    # A stopped service's paho client sits in reference cycles (its callbacks are bound methods);
    # collected here, its finalizer closes paho's socket pair. Left to the collections at the end
    # of the session, the sockets can be finalized first and warn as unclosed (an error here).
    gc.collect()
