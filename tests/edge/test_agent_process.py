"""The agent as its own process: `python -m livinglab_edge_agent run`, killed, stopped, restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from livinglab_edge_agent.wire import decode_batch
from tests.edge.helpers import (
    AgentProcess,
    expected_simulated,
    outbox_snapshot,
    wait_until,
    write_toml,
)


@pytest.fixture
def agent_files(broker, device, tmp_path):
    """(config path, outbox path, log path) of a subprocess agent with simulated sensors."""
    outbox = tmp_path / "state" / "outbox.db"
    config = write_toml(
        tmp_path / "agent.toml",
        broker,
        device=device.id,
        password=device.password,
        outbox=outbox,
    )
    return config, outbox, tmp_path / "agent.log"


@pytest.fixture
def processes():
    """Agent processes, killed at teardown if a test left one running."""
    started = []
    yield started
    for process in started:
        if process.process.poll() is None:
            process.kill()


def start(processes, agent_files):
    config, _outbox, log = agent_files
    process = AgentProcess(config, log)
    processes.append(process)
    return process


def assert_simulated_readings(listener, device, stats):
    """Each sampled reading arrived once (after dedupe by seq), with the simulated value."""
    assert listener.mismatched == []
    readings = listener.readings(device.id)
    assert len(readings) == stats.sampled == stats.acked
    assert readings == expected_simulated(readings)
    seqs = listener.seqs(device.id)
    assert seqs == list(range(1, len(seqs) + 1))


def test_last_will_says_offline_after_sigkill(listener, device, agent_files, processes):
    agent = start(processes, agent_files)
    wait_until(lambda: listener.count(device.id) >= 60, what="readings")
    wait_until(
        lambda: (listener.last_status(device.id) or {}).get("state") == "online",
        what="an online heartbeat",
    )
    assert agent.kill() == -9
    wait_until(
        lambda: listener.last_status(device.id)["state"] == "offline",
        what="the last will",
    )
    assert listener.last_status(device.id) == {"v": 1, "state": "offline"}


def test_sigterm_drains_and_exits_cleanly(listener, device, agent_files, processes):
    _config, outbox, log = agent_files
    agent = start(processes, agent_files)
    wait_until(lambda: listener.count(device.id) >= 100, what="readings")
    assert agent.terminate() == 0, log.read_text()

    stats, unacked = outbox_snapshot(outbox)
    assert unacked == {}
    assert stats.depth == 0
    wait_until(lambda: listener.count(device.id) >= stats.sampled, what="every reading")
    assert_simulated_readings(listener, device, stats)
    wait_until(
        lambda: listener.last_status(device.id)["state"] == "offline",
        what="the final status",
    )
    final = listener.last_status(device.id)
    assert final["readings_acked"] == stats.sampled
    assert "agent stopped" in log.read_text()


@pytest.mark.slow
def test_kill_9_and_restart_loses_nothing(
    broker, listener, device, agent_files, processes
):
    _config, outbox, log = agent_files
    first = start(processes, agent_files)
    wait_until(lambda: listener.count(device.id) >= 100, what="readings")
    # A frozen broker reads nothing and acknowledges nothing: the batches the agent publishes
    # now stay in the socket, sent but unacknowledged, when the agent dies.
    os.kill(broker.server.pid, signal.SIGSTOP)
    try:
        time.sleep(1.0)
        first.kill()
    finally:
        os.kill(broker.server.pid, signal.SIGCONT)
    killed, unacked = outbox_snapshot(outbox)
    assert len(unacked) >= 2
    assert killed.depth > sum(
        len(decode_batch(p)) for p in unacked.values()
    )  # + pending
    # The broker reads the dead agent's last packets and passes them on.
    wait_until(
        lambda: any((device.id, seq) in listener.batches for seq in unacked),
        what="batches the killed agent sent",
    )

    second = start(processes, agent_files)
    wait_until(lambda: listener.count(device.id) >= killed.sampled + 60, what="more")
    assert second.terminate() == 0, log.read_text()

    stats, left = outbox_snapshot(outbox)
    assert left == {}
    wait_until(lambda: listener.count(device.id) >= stats.sampled, what="every reading")
    assert_simulated_readings(listener, device, stats)
    # Re-sent with the same seq and the very same bytes; the listener dropped the repeats.
    repeated = [seq for seq in unacked if listener.copies[(device.id, seq)] > 1]
    assert repeated
    for seq, payload in unacked.items():
        assert listener.batches[(device.id, seq)] == payload


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "livinglab_edge_agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_reads_each_sensor_once(agent_files):
    config, _outbox, _log = agent_files
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert f"configuration {config} is valid" in result.stdout
    assert "password ok" in result.stdout
    assert "sensor air (simulated, every 0.1 s): air_temperature = " in result.stdout
    assert " degC" in result.stdout
    assert "sensor pm (simulated, every 0.1 s): pm2_5 = " in result.stdout
    assert "sensor noise (simulated, every 0.1 s): noise_level = " in result.stdout


def test_check_fails_for_a_sensor_that_cannot_be_read(tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text(
        'device_id = "pi-01"\n[mqtt]\nhost = "localhost"\npassword = "x"\n'
        '[outbox]\npath = "outbox.db"\n'
        '[[sensors]]\nname = "pm"\ndriver = "sds011"\n'
        f'options = {{ port = "{tmp_path}/no-such-tty" }}\n'
    )
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 1
    assert "sensor pm (sds011, every 10 s): FAILED: " in result.stdout
    assert "no-such-tty" in result.stdout


@pytest.mark.parametrize("command", ["run", "check"])
def test_configuration_error_exits_2_with_a_clear_message(tmp_path, command):
    config = tmp_path / "agent.toml"
    config.write_text('device_id = "pi-01"\n[mqtt]\nport = "eighty"\n')
    result = run_cli(command, "--config", str(config))
    assert result.returncode == 2
    assert f"configuration error: invalid configuration in {config}" in result.stderr
    assert "mqtt.host: required, but missing" in result.stderr
    assert "mqtt.port: Input should be a valid integer" in result.stderr
    assert "outbox: required, but missing" in result.stderr


def test_missing_password_file_exits_2(tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text(
        'device_id = "pi-01"\n[mqtt]\nhost = "localhost"\npassword_file = "secret"\n'
        '[outbox]\npath = "outbox.db"\n'
    )
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 2
    assert f"mqtt.password_file: cannot read {tmp_path / 'secret'}" in result.stderr
