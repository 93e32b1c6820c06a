"""Remote configuration end to end: the platform publishes, the real agent process applies or
refuses, the ingest stores its answer, and the platform shows desired against applied; also for
an agent that is offline when the change is made (it applies on reconnect)."""

from __future__ import annotations

import psycopg
import pytest

from livinglab_platform.access import cli_principal
from livinglab_platform.core import db
from livinglab_platform.core.settings import BrokerSettings
from livinglab_platform.ingest import IngestService
from livinglab_platform.registry import remote_config
from livinglab_platform.registry.schemas import ConfigChange, ConfigState
from tests.edge.helpers import AgentProcess, wait_until, write_toml
from tests.ingest.helpers import ingest_settings, register_device

OPERATOR = cli_principal("test")
DEVICE = "pi-cfg-01"


@pytest.fixture
def lab(dsn, ingest_dsn, broker, tmp_path):
    """A registered device with broker credentials, a running ingest, and its agent's files."""
    register_device(dsn, DEVICE, ("air_temperature",))
    password = broker.add_device(DEVICE)
    config = write_toml(
        tmp_path / "agent.toml",
        broker,
        device=DEVICE,
        password=password,
        outbox=tmp_path / "outbox.db",
    )
    service = IngestService(ingest_settings(ingest_dsn, broker))
    service.start()
    agents: list[AgentProcess] = []

    def start_agent():
        agent = AgentProcess(config, tmp_path / "agent.log")
        agents.append(agent)
        return agent

    yield start_agent
    for agent in agents:
        if agent.process.poll() is None:
            agent.kill()
    service.stop(timeout_s=10)


def _settings(broker):
    return BrokerSettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_platform_password=broker.platform_password,
    )


def _set(dsn, broker, **change):
    with psycopg.connect(dsn) as conn, db.unit_of_work(conn):
        return remote_config.set_config(
            conn,
            _settings(broker),
            OPERATOR,
            device_id=DEVICE,
            change=ConfigChange.model_validate(change),
        )


def _config(dsn):
    with psycopg.connect(dsn) as conn, db.unit_of_work(conn):
        return remote_config.get_config(conn, OPERATOR, DEVICE)


def _settles(dsn, revision, state):
    wait_until(
        lambda: (c := _config(dsn)).revision == revision and c.state is state,
        timeout_s=60,
        what=f"revision {revision} {state.value}",
    )
    return _config(dsn)


def test_online_agent_applies_and_refuses(dsn, broker, lab):
    lab()
    first = _set(
        dsn, broker, sensors={"air": {"interval_s": 2}}, heartbeat_interval_s=2
    )
    assert (first.revision, first.state) == (1, ConfigState.pending)
    applied = _settles(dsn, 1, ConfigState.applied)
    assert "air every 2 s" in (applied.message or "")
    assert applied.desired == {
        "v": 1,
        "revision": 1,
        "heartbeat_interval_s": 2.0,
        "sensors": {"air": {"interval_s": 2.0}},
    }
    # The agent reports the revision in force in its next heartbeat (at once after applying).
    wait_until(
        lambda: _config(dsn).reported_revision == 1, what="the reported revision"
    )

    # A sensor the device does not have: the agent refuses, and the platform shows why.
    _set(dsn, broker, sensors={"ghost": {"enabled": False}})
    refused = _settles(dsn, 2, ConfigState.refused)
    assert "unknown sensor 'ghost'" in (refused.message or "")
    with psycopg.connect(dsn) as conn:
        audited = conn.execute(
            "SELECT count(*) FROM audit_log WHERE object_id = %s AND action = 'configure'",
            (DEVICE,),
        ).fetchone()
    assert audited == (2,)


def test_offline_agent_applies_on_reconnect(dsn, broker, lab):
    agent = lab()
    _set(dsn, broker, batch_size=10)
    _settles(dsn, 1, ConfigState.applied)
    assert agent.terminate() == 0

    # Changed while the agent is down: retained on the broker, pending in the platform.
    pending = _set(dsn, broker, sensors={"noise": {"enabled": False}})
    assert (pending.revision, pending.state) == (2, ConfigState.pending)
    assert pending.desired is not None
    assert pending.desired["batch_size"] == 10

    lab()
    applied = _settles(dsn, 2, ConfigState.applied)
    assert "noise off" in (applied.message or "")
