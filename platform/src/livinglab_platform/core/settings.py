"""Settings of the platform's processes, read from LIVINGLAB_* environment variables.

One class per process; each is built once, at the process's start, and passed down.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from livinglab_platform.core.identities import (
    ADMIN_USER,
    INGEST_CLIENT_ID,
    INGEST_USER,
    require_service_id,
)

__all__ = [
    "VIEWER_MIN_COUNT",
    "ApiSettings",
    "BrokerSettings",
    "IngestSettings",
    "RetentionSettings",
]

# The fewest readings a one-minute cell must hold to enter a viewer's aggregates (the rule is
# access.cell_min_count). A bucket of one reading is that reading, and one of two lets a viewer
# who knows either reading (a device of their own beside it, a public station) compute the other.
# Statistical offices' threshold rules publish a cell only with 3 to 10 contributors; five sits
# inside that range.
VIEWER_MIN_COUNT = 5


class BrokerSettings(BaseSettings):
    """Where the broker is and the dynamic-security admin that manages device clients."""

    model_config = SettingsConfigDict(env_prefix="LIVINGLAB_", extra="ignore")
    mqtt_host: str = "localhost"
    mqtt_port: int = Field(default=1883, gt=0, lt=65536)
    mqtt_tls: bool = False
    mqtt_ca_file: str | None = None
    mqtt_admin_user: str = ADMIN_USER
    mqtt_admin_password: SecretStr = SecretStr("")
    mqtt_platform_password: SecretStr = SecretStr("")

    @field_validator("mqtt_admin_user")
    @classmethod
    def _admin_is_a_service(cls, value: str) -> str:
        return require_service_id(value, variable="LIVINGLAB_MQTT_ADMIN_USER")


class IngestSettings(BaseSettings):
    """The ingest service: broker session, database, batching and limits."""

    model_config = SettingsConfigDict(env_prefix="LIVINGLAB_", extra="ignore")
    database_url: str = "postgresql://livinglab@localhost:5432/livinglab"
    mqtt_host: str = "localhost"
    mqtt_port: int = Field(default=1883, gt=0, lt=65536)
    mqtt_tls: bool = False
    mqtt_ca_file: str | None = None
    mqtt_user: str = INGEST_USER
    mqtt_password: SecretStr = SecretStr("")
    # Identifies this instance's persistent session; each instance needs its own. A service
    # identity, so that no device can take the session over (core/identities.py).
    ingest_client_id: str = INGEST_CLIENT_ID
    ingest_group: str = "ingest"
    session_expiry_s: int = Field(default=7 * 24 * 3600, gt=0)
    writers: int = Field(default=2, ge=1, le=16)
    batch_max_rows: int = Field(default=100_000, gt=0)
    batch_max_wait_s: float = Field(default=0.05, ge=0)
    max_future_s: float = Field(default=300.0, ge=0)
    stats_interval_s: float = Field(default=5.0, gt=0)
    # Unacknowledged messages the broker may have in flight to us (MQTT v5 Receive Maximum): the
    # backlog a group can draw from. Mosquitto also caps it with max_inflight_messages.
    mqtt_receive_maximum: int = Field(default=1000, ge=1, le=65535)
    # Delivery receipts to devices after each commit (ingest/receipts.py); the ingest role needs
    # publishClientSend on livinglab/v1/+/receipts (`livinglab broker bootstrap` adds it).
    receipts: bool = True

    @field_validator("mqtt_user")
    @classmethod
    def _user_is_a_service(cls, value: str) -> str:
        return require_service_id(value, variable="LIVINGLAB_MQTT_USER")

    @field_validator("ingest_client_id")
    @classmethod
    def _client_id_is_a_service(cls, value: str) -> str:
        return require_service_id(value, variable="LIVINGLAB_INGEST_CLIENT_ID")


class ApiSettings(BaseSettings):
    """The API server: its database, where it listens, its connection pools, its limits, and what
    viewers see."""

    model_config = SettingsConfigDict(env_prefix="LIVINGLAB_", extra="ignore")
    database_url: str = "postgresql://livinglab@localhost:5432/livinglab"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, gt=0, lt=65536)
    api_pool_size: int = Field(default=4, ge=1, le=64)
    # Exports and dossiers take their connections from a pool of their own, so however many
    # downloads run (or stall), the requests' pool stays free for everyone else.
    api_export_pool_size: int = Field(default=2, ge=1, le=64)
    api_exports_per_person: int = Field(default=1, ge=1, le=64)
    # A response that could not be handed to the client for this long (it stopped reading) is cut.
    api_send_timeout_s: float = Field(default=30.0, gt=0)
    # 1 MiB: the largest body a route takes (a trial with its texts) is a few kilobytes.
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # 10 MiB: a scanned, signed agreement or a meeting's minutes; the upload route alone takes it.
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Set when the API is served over HTTPS, so the sign-in cookie is sent over TLS only.
    api_secure_cookies: bool = False
    # LIVINGLAB_VIEWER_MIN_COUNT: see VIEWER_MIN_COUNT.
    viewer_min_count: int = Field(default=VIEWER_MIN_COUNT, ge=1)


class RetentionSettings(BaseSettings):
    """`livinglab db retention`: how long raw readings are kept. Runs as the schema's owner on
    LIVINGLAB_DATABASE_URL, like `db upgrade` (drop_chunks needs the hypertable's owner)."""

    # An empty value (the compose stack's default) means unset: keep everything.
    model_config = SettingsConfigDict(
        env_prefix="LIVINGLAB_", extra="ignore", env_ignore_empty=True
    )
    # Days of raw readings to keep; unset keeps everything. Rollups are always kept.
    raw_retention_days: int | None = Field(default=None, ge=1)
