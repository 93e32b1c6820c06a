"""Errors of the lab's tooling."""

from livinglab_platform.core.errors import PlatformError

__all__ = ["ServiceError"]


class ServiceError(PlatformError):
    """A local service (PostgreSQL, Mosquitto) of the lab could not be started or stopped."""

    status = 500
