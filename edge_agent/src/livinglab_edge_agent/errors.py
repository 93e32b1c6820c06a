"""Errors raised by the edge agent; foreign errors are translated where they enter."""

from __future__ import annotations

__all__ = ["ConfigError", "EdgeError", "OutboxError", "PublishError", "SensorError"]


class EdgeError(Exception):
    """Base of every error the edge agent raises on purpose."""


class SensorError(EdgeError):
    """Raised when a sensor could not be read (bus error, bad frame, no data in time)."""


class ConfigError(EdgeError):
    """Raised when the agent configuration is invalid (unknown driver, bad option, missing extra)."""


class OutboxError(EdgeError):
    """Raised when the outbox database failed (cannot open, write or delete rows)."""


class PublishError(EdgeError):
    """Raised when the broker refused or failed a publish."""
