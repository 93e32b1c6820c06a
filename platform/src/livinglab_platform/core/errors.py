"""Errors of the platform; each carries the HTTP status the API answers with."""


class PlatformError(Exception):
    """Base of every error the platform raises on purpose.

    `field` names the input the error is about (None: the request as a whole); the API's error
    body and the web forms read it, never the message text.
    """

    status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConfigurationError(PlatformError):
    """Settings or the environment are incomplete or invalid (e.g. TimescaleDB missing)."""

    status = 500


class MigrationError(PlatformError):
    """A schema migration could not be applied."""

    status = 500


class BrokerError(PlatformError):
    """The broker refused or did not answer a dynamic-security command."""

    status = 502


class InvalidInputError(PlatformError):
    """The input is invalid for the platform's rules or state: an unknown site or organisation, a
    bad id, a missing reason."""

    status = 400


class RecordImportError(InvalidInputError):
    """Rows of an import file that the record refuses; nothing of the import is written. Each line
    of the message names the file, the row and the field (`field` is the first problem's)."""

    status = 400


class TooLargeError(InvalidInputError):
    """An input larger than the platform takes (an evidence file over its limit)."""

    status = 413


class AuthenticationError(PlatformError):
    """No token, or a token that is unknown, revoked or expired."""

    status = 401


class ForbiddenError(PlatformError):
    """The person is known but their role or organisation may not do this."""

    status = 403


class NotFoundError(PlatformError):
    """The object does not exist, or is not visible to the person asking."""

    status = 404


class ConflictError(PlatformError):
    """The request is valid but clashes with the current state (a transition, a duplicate id)."""

    status = 409


class BusyError(PlatformError):
    """Raised when the asker already runs as many exports as allowed, or every export slot is taken."""

    status = 429
    retry_after_s = 5
