"""Errors of the platform; each carries an HTTP status for the API to come."""


class PlatformError(Exception):
    """Base of every error the platform raises on purpose."""

    status = 500


class ConfigurationError(PlatformError):
    """Settings or the environment are incomplete or invalid (e.g. TimescaleDB missing)."""

    status = 500


class MigrationError(PlatformError):
    """A schema migration could not be applied."""

    status = 500


class BrokerError(PlatformError):
    """The broker refused or did not answer a dynamic-security command."""

    status = 502


class RegistryError(PlatformError):
    """A registry change is invalid: unknown site, duplicate device or sensor, bad id."""

    status = 400


class ServiceError(PlatformError):
    """A local service (PostgreSQL, Mosquitto) of the lab could not be started or stopped."""

    status = 500
