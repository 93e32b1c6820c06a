"""Fixtures of the agent tests: a registered device, a listener and agents stopped at teardown."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from livinglab_edge_agent.agent import Agent
from tests.edge.helpers import Listener, fake_clock, make_config


@dataclass
class Device:
    id: str
    password: str


@pytest.fixture
def device(broker):
    """A device with its own broker client (client id pinned to the device id)."""
    return Device(id="pi-01", password=broker.add_device("pi-01"))


@pytest.fixture
def listener(broker):
    """Telemetry, status and events of every device, as the ingest and the platform see them."""
    result = Listener(
        broker,
        filters=(
            "livinglab/v1/+/telemetry",
            "livinglab/v1/+/status",
            "livinglab/v1/+/events",
        ),
    )
    yield result
    result.close()


@pytest.fixture
def start_agent(broker, device, tmp_path):
    """Start an in-process agent for `device`: `start_agent(sensors=[...], batch_size=...)`."""
    agents = []

    def start(*, sources=(), sensors, clock=fake_clock, **settings):
        config = make_config(
            broker,
            tmp_path,
            device=device.id,
            password=device.password,
            sensors=sensors,
            **settings,
        )
        agent = Agent(config, clock=clock, sensors=list(sources))
        agents.append(agent)
        agent.start()
        return agent

    yield start
    for agent in agents:
        agent.stop()
