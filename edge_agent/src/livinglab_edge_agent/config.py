"""The agent configuration: `agent.toml`, validated into an `AgentConfig`.

Relative paths in the file (outbox path, password file, CA file) are taken relative to the file's
own directory, so a configuration works wherever it is started from.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from livinglab_edge_agent.errors import ConfigError
from livinglab_edge_agent.outbox import DEFAULT_CAPACITY
from livinglab_edge_agent.sensors import DRIVERS, SensorSpec
from livinglab_edge_agent.wire import DEVICE_ID_PATTERN, DEVICE_ID_RULE, MAX_READINGS

__all__ = [
    "AgentConfig",
    "MqttConfig",
    "OutboxConfig",
    "UplinkConfig",
    "describe_validation_error",
    "load_config",
]

TLS_PORT = 8883
PLAIN_PORT = 1883


class MqttConfig(BaseModel):
    """`[mqtt]`: how to reach the broker and log in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1)
    # None means the MQTT default for the transport: 8883 with TLS, 1883 without.
    port: int | None = Field(default=None, ge=1, le=65_535)
    username: str | None = Field(default=None, min_length=1)
    password: SecretStr | None = None
    password_file: Path | None = None
    tls: bool = True
    ca_file: Path | None = None
    keepalive_s: int = Field(default=60, ge=5, le=65_535)

    @model_validator(mode="after")
    def _one_password(self) -> Self:
        if self.password is None and self.password_file is None:
            raise ValueError("set either 'password' or 'password_file'")
        if self.password is not None and self.password_file is not None:
            raise ValueError("set only one of 'password' and 'password_file'")
        return self

    @property
    def effective_port(self) -> int:
        """The configured port, or the default for the transport."""
        if self.port is not None:
            return self.port
        return TLS_PORT if self.tls else PLAIN_PORT

    def resolve_password(self) -> str:
        """The password, read from `password_file` if that is how it is given."""
        if self.password is not None:
            return self.password.get_secret_value()
        assert self.password_file is not None  # guaranteed by _one_password
        try:
            password = self.password_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"mqtt.password_file: cannot read {self.password_file}: {exc}"
            ) from exc
        if not password:
            raise ConfigError(f"mqtt.password_file: {self.password_file} is empty")
        return password


class OutboxConfig(BaseModel):
    """`[outbox]`: the SQLite file that holds readings until the broker acknowledges them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    capacity: int = Field(default=DEFAULT_CAPACITY, ge=1)
    synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "FULL"


class UplinkConfig(BaseModel):
    """`[uplink]`: how readings are grouped into batches and sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(default=500, ge=1, le=MAX_READINGS)
    batch_max_age_s: float = Field(default=5.0, ge=0.05, le=3600)
    max_inflight: int = Field(default=10, ge=1, le=1000)
    drain_timeout_s: float = Field(default=5.0, ge=0, le=600)
    # Delivery receipts (broker/README.md, "Delivery receipts"): keep a batch until the platform
    # says it is committed, not only until the broker's PUBACK.
    receipts: bool = True
    receipt_timeout_s: float = Field(default=30.0, ge=0.1, le=3600)
    max_unconfirmed: int = Field(default=200, ge=1, le=100_000)


class AgentConfig(BaseModel):
    """The whole agent configuration (agent.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: str
    heartbeat_interval_s: float = Field(default=30.0, ge=1, le=3600)
    mqtt: MqttConfig
    outbox: OutboxConfig
    uplink: UplinkConfig = Field(default_factory=UplinkConfig)
    sensors: list[SensorSpec] = Field(default_factory=list)

    @field_validator("device_id")
    @classmethod
    def _check_device_id(cls, device_id: str) -> str:
        if not DEVICE_ID_PATTERN.match(device_id):
            raise ValueError(
                f"use {DEVICE_ID_RULE} (it is the MQTT client id and a topic level)"
            )
        return device_id

    @field_validator("sensors")
    @classmethod
    def _check_sensors(cls, sensors: list[SensorSpec]) -> list[SensorSpec]:
        seen: set[str] = set()
        for index, spec in enumerate(sensors):
            if spec.name in seen:
                raise ValueError(
                    f"sensor name {spec.name!r} is used twice; names must be unique"
                )
            seen.add(spec.name)
            if spec.driver not in DRIVERS:
                raise ValueError(
                    f"sensors[{index}] ({spec.name!r}): unknown driver {spec.driver!r}; "
                    f"valid drivers: {', '.join(sorted(DRIVERS))}"
                )
        return sensors

    @property
    def username(self) -> str:
        """The broker user name: `mqtt.username`, by default the device id."""
        return self.mqtt.username or self.device_id


def _location(loc: tuple[int | str, ...]) -> str:
    """`('sensors', 0, 'interval_s')` -> `sensors[0].interval_s`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem, each naming the field: `mqtt.port: Input should be ...`."""
    lines = []
    for error in exc.errors():
        where = _location(tuple(error["loc"]))
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and section)"
        elif error["type"] == "missing":
            message = "required, but missing"
        else:
            message = error["msg"].removeprefix("Value error, ")
            value = error.get("input")
            # Echo scalars only: a model-level error's input is a whole section, and never a secret.
            if isinstance(value, str | int | float) and "password" not in where:
                message += f" (got {value!r})"
        lines.append(f"{where}: {message}")
    return lines


def _resolve(base: Path, path: Path | None) -> Path | None:
    if path is None:
        return None
    path = path.expanduser()
    return path if path.is_absolute() else base / path


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate a TOML configuration; raise ConfigError naming the file and the fields."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            document: dict[str, Any] = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror or exc}"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        config = AgentConfig.model_validate(document)
    except ValidationError as exc:
        count = exc.error_count()
        raise ConfigError(
            f"invalid configuration in {path} ({count} problem{'s' if count > 1 else ''}):\n"
            + "\n".join(f"  {line}" for line in describe_validation_error(exc))
        ) from exc
    base = path.resolve().parent
    mqtt = config.mqtt.model_copy(
        update={
            "password_file": _resolve(base, config.mqtt.password_file),
            "ca_file": _resolve(base, config.mqtt.ca_file),
        }
    )
    outbox = config.outbox.model_copy(
        update={"path": _resolve(base, config.outbox.path)}
    )
    return config.model_copy(update={"mqtt": mqtt, "outbox": outbox})
