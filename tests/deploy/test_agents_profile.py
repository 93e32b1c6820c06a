"""The compose stack's `agents` profile: deploy/agents/register.sh registers the simulated devices
with the real `livinglab` command, database and broker, and their agent configs load."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import yaml

from livinglab_edge_agent.config import load_config
from tests.broker.test_isolation import Session

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ROOT / "deploy" / "agents"


def _register(agents_dir: Path, *, dsn: str, broker) -> str:
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "AGENTS_DIR": str(agents_dir),
        "LIVINGLAB_DATABASE_URL": dsn,
        "LIVINGLAB_MQTT_HOST": broker.host,
        "LIVINGLAB_MQTT_PORT": str(broker.port),
        "LIVINGLAB_MQTT_ADMIN_PASSWORD": broker.server.admin_password,
        "COLUMNS": "200",
    }
    done = subprocess.run(
        ["sh", str(AGENTS / "register.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _devices() -> list[str]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    configs = [
        s["command"][-1]
        for s in services.values()
        if s.get("entrypoint") == ["livinglab-agent"]
    ]
    assert len(configs) == 3
    return [Path(c).stem for c in configs]


def test_register_then_each_agent_config_loads_and_logs_in(
    api_dsn, broker, tmp_path
) -> None:
    out = _register(tmp_path, dsn=api_dsn, broker=broker)
    devices = _devices()
    for device in devices:
        assert f"{device}: registered" in out
        password_file = tmp_path / device / "password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        # The config as the container reads it, with the volume at tmp_path instead of /agents.
        text = (
            (AGENTS / f"{device}.toml").read_text().replace("/agents/", f"{tmp_path}/")
        )
        (tmp_path / f"{device}.toml").write_text(text)
        config = load_config(tmp_path / f"{device}.toml")
        assert config.device_id == device
        session = Session(
            broker, username=device, password=config.mqtt.resolve_password()
        )
        assert session.connect_code == 0  # the printed password is the broker's
        session.client.disconnect()
        session.client.loop_stop()
    with psycopg.connect(api_dsn) as conn:
        rows = conn.execute("SELECT id FROM devices ORDER BY id").fetchall()
    assert [r[0] for r in rows] == sorted(devices)
    # A second run (the service starts again with the stack) registers nothing twice.
    again = _register(tmp_path, dsn=api_dsn, broker=broker)
    assert all(f"{device}: already registered" in again for device in devices)
