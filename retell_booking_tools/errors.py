"""Every exception this library raises derives from :class:`RetellBookingError`.

    RetellBookingError
    ├── ConfigurationError        a required setting is missing or malformed
    │   └── BusinessesFileError   the businesses file is unreadable or names mistakes
    ├── CalcomError               Cal.com answered badly or not at all (calcom/errors.py)
    │   ├── CalcomAuthError
    │   ├── CalcomNotFound
    │   ├── CalcomSlotUnavailable   ``refusal`` from the refusal table (calcom/refusals.py)
    │   ├── CalcomBookerLimitReached
    │   ├── CalcomValidationError
    │   ├── CalcomRateLimited     retryable
    │   └── CalcomUnavailable     retryable; ``ambiguous`` when a write may have committed
    ├── RepositoryError           the store failed
    │   ├── SchemaOutOfDate       migrations have not been applied
    │   └── CountersUnavailable   the shared counters (Redis) could not be read
    ├── NotOwner                  a booking belongs to another customer
    └── InvalidArguments          tool arguments that cannot be acted on

The tool layer turns each into a status; nothing is swallowed silently.
"""

from __future__ import annotations


class RetellBookingError(Exception):
    """Root of the hierarchy. ``retryable`` tells whether the same action may succeed later."""

    retryable: bool = False


class ConfigurationError(RetellBookingError):
    """A setting is missing or malformed; the message names the environment variable."""


class BusinessesFileError(ConfigurationError):
    """The businesses file (``RETELL_BOOKING_BUSINESSES``) cannot be used.

    ``problems`` names every mistake with its place in the file (``businesses[1].services[0].
    event_type_id: ...``, with the line where it could be found); no message repeats a value
    that looks like an API key.
    """

    def __init__(self, path: str, problems: tuple[str, ...]) -> None:
        super().__init__(f"invalid businesses file {path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


class RepositoryError(RetellBookingError):
    """The store could not complete an operation; nothing was half-written."""

    retryable = True


class SchemaOutOfDate(RepositoryError):
    """The database schema is behind this version; run ``retell-booking-tools db upgrade``."""

    retryable = False


class CountersUnavailable(RepositoryError):
    """The counters shared by replicas (Redis, ``RETELL_BOOKING_REDIS_URL``) could not be read."""


class NotOwner(RetellBookingError):
    """The booking exists but belongs to a different customer. Carries no detail about them."""


class InvalidArguments(RetellBookingError):
    """Arguments that cannot be acted on; ``field`` names the first offending one."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
