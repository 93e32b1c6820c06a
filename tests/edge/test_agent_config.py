"""agent.toml loading (clear errors naming file and field), the shipped sample, the clock state."""

from __future__ import annotations

from pathlib import Path

import pytest

from livinglab_edge_agent.clock import (
    STA_NANO,
    STA_UNSYNC,
    TIME_ERROR,
    clock_state_from_timex,
    read_clock_state,
)
from livinglab_edge_agent.config import load_config
from livinglab_edge_agent.errors import ConfigError
from livinglab_edge_agent.wire import ClockState

SAMPLE = Path(__file__).parents[2] / "edge_agent" / "agent.toml"
MINIMAL = """\
device_id = "pi-01"
[mqtt]
host = "broker.example.org"
password = "secret"
[outbox]
path = "outbox.db"
"""


def write(tmp_path, text):
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def load_error(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_minimal_config_gets_the_documented_defaults(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.mqtt.tls is True
    assert config.mqtt.effective_port == 8883
    assert config.mqtt.keepalive_s == 60
    assert config.username == "pi-01"
    assert config.mqtt.resolve_password() == "secret"
    assert config.outbox.path == tmp_path / "outbox.db"  # relative to the file
    assert config.outbox.capacity == 1_000_000
    assert config.outbox.synchronous == "FULL"
    assert config.uplink.batch_size == 500
    assert config.uplink.batch_max_age_s == 5
    assert config.uplink.max_inflight == 10
    assert config.uplink.drain_timeout_s == 5
    assert config.heartbeat_interval_s == 30
    assert config.sensors == []
    assert "secret" not in repr(config)


def test_plain_mqtt_defaults_to_port_1883_and_username_can_differ(tmp_path):
    text = MINIMAL.replace("[mqtt]\n", '[mqtt]\ntls = false\nusername = "lab-pi"\n')
    config = load_config(write(tmp_path, text))
    assert config.mqtt.effective_port == 1883
    assert config.username == "lab-pi"


def test_password_file_is_read_relative_to_the_config(tmp_path):
    (tmp_path / "password").write_text("from-file\n")
    text = MINIMAL.replace('password = "secret"', 'password_file = "password"')
    config = load_config(write(tmp_path, text))
    assert config.mqtt.password_file == tmp_path / "password"
    assert config.mqtt.resolve_password() == "from-file"


def test_unreadable_password_file_names_the_field_and_file(tmp_path):
    text = MINIMAL.replace('password = "secret"', 'password_file = "nope"')
    config = load_config(write(tmp_path, text))
    with pytest.raises(ConfigError, match=r"mqtt\.password_file: cannot read .*nope"):
        config.mqtt.resolve_password()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL.replace('device_id = "pi-01"\n', ""),
            "device_id: required, but missing",
        ),
        (
            MINIMAL.replace('host = "broker.example.org"\n', ""),
            "mqtt.host: required, but missing",
        ),
        (
            MINIMAL.replace("[outbox]\npath", "[outbox]\ncapacity = 5\n#"),
            "outbox.path: required, but missing",
        ),
        (
            MINIMAL + '[uplink]\nbatch_size = "many"\n',
            "uplink.batch_size: Input should be a valid integer, unable to parse string as an integer (got 'many')",
        ),
        (
            MINIMAL + "[uplink]\nbatch_size = 0\n",
            "uplink.batch_size: Input should be greater than or equal to 1 (got 0)",
        ),
        (
            MINIMAL.replace("[mqtt]\n", "[mqtt]\nport = 99999\n"),
            "mqtt.port: Input should be less than or equal to 65535 (got 99999)",
        ),
        (MINIMAL.replace("[mqtt]\n", "[mqtt]\nhots = 1\n"), "mqtt.hots: unknown key"),
        (MINIMAL.replace('"pi-01"', '"Pi 01"'), "device_id: use 1-63 of a-z 0-9 _ -"),
        (
            MINIMAL.replace('password = "secret"\n', ""),
            "mqtt: set either 'password' or 'password_file'",
        ),
        (
            MINIMAL.replace(
                'password = "secret"', 'password = "a"\npassword_file = "b"'
            ),
            "mqtt: set only one of 'password' and 'password_file'",
        ),
        (
            MINIMAL + '[[sensors]]\nname = "pm"\ndriver = "sds012"\n',
            "sensors: sensors[0] ('pm'): unknown driver 'sds012'; valid drivers: bme280, ds18b20, sds011, simulated",
        ),
        (
            MINIMAL
            + '[[sensors]]\nname = "pm"\ndriver = "simulated"\ninterval_s = 0\n',
            "sensors[0].interval_s: Input should be greater than or equal to 0.1 (got 0)",
        ),
        (
            MINIMAL
            + '[[sensors]]\nname = "a"\ndriver = "simulated"\n[[sensors]]\nname = "a"\ndriver = "simulated"\n',
            "sensor name 'a' is used twice",
        ),
        (
            MINIMAL + '[[sensors]]\ndriver = "simulated"\n',
            "sensors[0].name: required, but missing",
        ),
    ],
)
def test_invalid_values_name_the_field(tmp_path, text, expected):
    message = load_error(tmp_path, text)
    assert message.startswith("invalid configuration in ")
    assert expected in message


def test_every_problem_is_listed_on_its_own_line(tmp_path):
    message = load_error(tmp_path, '[mqtt]\nport = "x"\n')
    assert "(4 problems)" in message
    lines = message.splitlines()[1:]
    assert lines == [
        "  device_id: required, but missing",
        "  mqtt.host: required, but missing",
        "  mqtt.port: Input should be a valid integer, unable to parse string as an integer (got 'x')",
        "  outbox: required, but missing",
    ]


def test_password_is_never_echoed_in_errors(tmp_path):
    text = MINIMAL.replace(
        'password = "secret"', 'password = "secret"\npassword_file = "f"'
    )
    assert "secret" not in load_error(tmp_path, text)


def test_bad_toml_syntax_gives_the_line(tmp_path):
    message = load_error(tmp_path, 'device_id = "pi-01"\n[mqtt\nhost = "x"\n')
    assert "is not valid TOML" in message
    assert "line 2" in message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read config file .*absent\.toml"):
        load_config(tmp_path / "absent.toml")


def test_shipped_sample_config_is_valid():
    config = load_config(SAMPLE)
    assert config.mqtt.tls is True
    assert config.mqtt.effective_port == 8883
    assert config.mqtt.password_file == Path("/etc/livinglab-agent/password")
    assert config.outbox.path == Path("/var/lib/livinglab-agent/outbox.db")
    assert [(s.name, s.driver) for s in config.sensors] == [
        ("air", "bme280"),
        ("pm", "sds011"),
        ("ground", "ds18b20"),
    ]
    assert config.sensors[0].options == {"bus": 1, "address": 0x76}
    assert config.sensors[1].options["port"] == "/dev/ttyUSB0"


@pytest.mark.parametrize(
    ("state", "status", "offset", "expected"),
    [
        (0, 0, 250, ClockState(synced=True, offset_ns=250_000)),
        (0, STA_NANO, 250, ClockState(synced=True, offset_ns=250)),
        (0, STA_UNSYNC, 250, ClockState(synced=False)),
        (TIME_ERROR, 0, 250, ClockState(synced=False)),
        (-1, 0, 0, ClockState(synced=False)),
        (
            1,
            0,
            -40,
            ClockState(synced=True, offset_ns=-40_000),
        ),  # TIME_INS: leap second ahead
    ],
)
def test_clock_state_from_adjtimex(state, status, offset, expected):
    assert clock_state_from_timex(state=state, status=status, offset=offset) == expected


def test_read_clock_state_never_raises():
    state = read_clock_state()
    assert isinstance(state, ClockState)
    assert state.synced or state.offset_ns is None
