"""Settings of the API process, read from LIVINGLAB_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiSettings"]


class ApiSettings(BaseSettings):
    """The API server: its database, where it listens and its connection pool."""

    model_config = SettingsConfigDict(env_prefix="LIVINGLAB_", extra="ignore")
    database_url: str = "postgresql://livinglab@localhost:5432/livinglab"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, gt=0, lt=65536)
    api_pool_size: int = Field(default=4, ge=1, le=64)
    # Set when the API is served over HTTPS, so the sign-in cookie is sent over TLS only.
    api_secure_cookies: bool = False
