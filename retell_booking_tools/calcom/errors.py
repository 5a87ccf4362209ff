"""Errors at the Cal.com boundary, one class per way a caller reacts differently.

    CalcomError (RetellBookingError)
    ├── CalcomAuthError         401/403: the API key is wrong; nothing will help but config
    ├── CalcomNotFound          404: no such booking or event type
    ├── CalcomSlotUnavailable   400/409 a refusal of the start in the refusal table
    │                           (taken, host busy, too soon, too far, in the past): ``refusal``
    ├── CalcomBookerLimitReached 400 the attendee holds as many bookings as allowed;
    │                           ``reschedule_uid`` when Cal.com offers to move one
    ├── CalcomValidationError   other 400s: our request was malformed (a bug or a bad input)
    ├── CalcomRateLimited       429: retryable, after ``retry_after`` seconds if known
    │   └── CalcomBudgetExhausted  not sent: the key's shared budget is spent for longer
    │                              than a caller may wait
    └── CalcomUnavailable       5xx, timeouts, resets, malformed answers: retryable;
                                ``ambiguous`` when a write may have been committed anyway

Messages carry Cal.com's own message and status, never the API key or request body.
"""

from __future__ import annotations

from retell_booking_tools.calcom.refusals import Refusal
from retell_booking_tools.errors import RetellBookingError


class CalcomError(RetellBookingError):
    """Cal.com did not do what was asked."""

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
