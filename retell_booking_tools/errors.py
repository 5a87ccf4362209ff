"""Every exception this library raises lives here and derives from :class:`RetellBookingError`.

    RetellBookingError
    ├── ConfigurationError          a required setting is missing or malformed
    │   └── BusinessesFileError       the businesses file is unreadable or names mistakes
    ├── CalcomError                 Cal.com did not do what was asked
    │   ├── CalcomAuthError           401/403: the API key is wrong; only config helps
    │   ├── CalcomNotFound            404: no such booking or event type
    │   ├── CalcomSlotUnavailable     400/409 a refusal of the start in the refusal table
    │   │                             (calcom/refusals.py): ``refusal``
    │   ├── CalcomBookerLimitReached  400 the attendee holds as many bookings as allowed;
    │   │                             ``reschedule_uid`` when Cal.com offers to move one
    │   ├── CalcomValidationError     other 400s: our request was malformed
    │   ├── CalcomRateLimited         429: retryable, after ``retry_after`` seconds if known
    │   │   └── CalcomBudgetExhausted   not sent: the key's shared budget is spent for
    │   │                               longer than a caller may wait
    │   └── CalcomUnavailable         5xx, timeouts, resets, malformed answers: retryable;
    │                                 ``ambiguous`` when a write may have committed
    ├── InvalidWebhook              a signed body that is not a Cal.com webhook we can read
    ├── RepositoryError             the store failed; nothing was half-written
    │   ├── SchemaOutOfDate           migrations have not been applied
    │   └── CountersUnavailable       the shared counters (Redis) could not be read
    ├── InvalidArguments            tool arguments that cannot be acted on (``field``)
    │   └── SameStart                 a reschedule to the start it already has
    ├── UnknownTool                 a function call names no tool this process serves
    ├── NotStarted                  the endpoints served before their lifespan was entered
    ├── UnknownToolName             an export asked for a tool this package does not serve
    └── RetellSyncError             Retell could not be read or updated

The tool layer turns each into a status; nothing is swallowed silently. Messages carry
Cal.com's and Retell's own message and status, never an API key or a request body.
"""

from __future__ import annotations

from retell_booking_tools.calcom.refusals import Refusal


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


class InvalidArguments(RetellBookingError):
    """Arguments that cannot be acted on; ``field`` names the first offending one."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class SameStart(InvalidArguments):
    """The appointment already starts at the time asked for: nothing to move."""

    def __init__(self) -> None:
        super().__init__("time", "the appointment already starts then")


class UnknownTool(RetellBookingError):
    """No tool of that name is served."""


class NotStarted(RetellBookingError):
    """The endpoints were asked to serve before their lifespan was entered."""


class UnknownToolName(RetellBookingError):
    """A tool name was asked for that this package does not serve."""


class RetellSyncError(RetellBookingError):
    """Retell could not be read or updated; the message says why, never the API key."""


class InvalidWebhook(RetellBookingError):
    """A signed body that is not a Cal.com webhook we can read."""


class CalcomError(RetellBookingError):
    """Cal.com did not do what was asked."""

    busy = False
    """Stopped by the API key's request budget or Cal.com's rate limit: the caller hears
    that the booking system is busy and nothing was done, not that it broke."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code

    @property
    def kind(self) -> str:
        """A short stable name for metrics and logs."""
        return type(self).__name__


class CalcomAuthError(CalcomError):
    """The API key was refused."""


class CalcomNotFound(CalcomError):
    """The booking, event type or route does not exist."""


class CalcomSlotUnavailable(CalcomError):
    """Cal.com refused the start: taken (possibly by this same attendee), outside hours,
    inside the minimum notice, past the booking window or in the past (``refusal``)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        refusal: Refusal = Refusal.SLOT_TAKEN,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.refusal = refusal


class CalcomBookerLimitReached(CalcomError):
    """The attendee already holds as many active bookings as the event type allows.

    ``reschedule_uid`` is the booking Cal.com offers to move instead, when it names one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = 400,
        code: str | None = None,
        reschedule_uid: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.reschedule_uid = reschedule_uid


class CalcomValidationError(CalcomError):
    """Cal.com rejected the request as malformed."""


class CalcomRateLimited(CalcomError):
    """Too many requests; ``retry_after`` is seconds to wait when Cal.com told us."""

    retryable = True
    busy = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = 429,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.retry_after = retry_after


class CalcomBudgetExhausted(CalcomRateLimited):
    """Not sent: the API key's request budget (shared by every replica) would only allow it
    after ``retry_after`` seconds, longer than a caller may wait. Nothing happened."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status_code=None, retry_after=retry_after)


class CalcomUnavailable(CalcomError):
    """Cal.com did not answer usefully. ``ambiguous``: a write may have been committed."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.ambiguous = ambiguous
