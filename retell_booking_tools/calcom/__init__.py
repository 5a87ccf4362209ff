"""The Cal.com v2 HTTP boundary: client, wire models, errors and webhooks, nothing else."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retell_booking_tools.calcom.client import (
        BOOKINGS_API_VERSION,
        DEFAULT_API_URL,
        SLOTS_API_VERSION,
        CalcomClient,
        CalcomRequestEvent,
    )
    from retell_booking_tools.calcom.errors import (
        CalcomAuthError,
        CalcomBookerLimitReached,
        CalcomError,
        CalcomNotFound,
        CalcomRateLimited,
        CalcomSlotUnavailable,
        CalcomUnavailable,
        CalcomValidationError,
    )
    from retell_booking_tools.calcom.models import (
        Booking,
        BookingAttendee,
        CancelBooking,
        CreateBooking,
        NewAttendee,
        RescheduleBooking,
    )
    from retell_booking_tools.calcom.webhooks import (
        BookingEvent,
        InvalidWebhook,
        parse_webhook,
        sign_webhook,
        verify_webhook_signature,
    )
else:
    from retell_booking_tools.lazy_exports import lazy_exports as _lazy_exports

    __getattr__, __dir__ = _lazy_exports(
        __name__,
        {
            "retell_booking_tools.calcom.client": (
                "BOOKINGS_API_VERSION",
                "DEFAULT_API_URL",
                "SLOTS_API_VERSION",
                "CalcomClient",
                "CalcomRequestEvent",
            ),
            "retell_booking_tools.calcom.errors": (
                "CalcomAuthError",
                "CalcomBookerLimitReached",
                "CalcomError",
                "CalcomNotFound",
                "CalcomRateLimited",
                "CalcomSlotUnavailable",
                "CalcomUnavailable",
                "CalcomValidationError",
            ),
            "retell_booking_tools.calcom.models": (
                "Booking",
                "BookingAttendee",
                "CancelBooking",
                "CreateBooking",
                "NewAttendee",
                "RescheduleBooking",
            ),
            "retell_booking_tools.calcom.webhooks": (
                "BookingEvent",
                "InvalidWebhook",
                "parse_webhook",
                "sign_webhook",
                "verify_webhook_signature",
            ),
        },
    )

__all__ = [
    "BOOKINGS_API_VERSION",
    "DEFAULT_API_URL",
    "SLOTS_API_VERSION",
    "Booking",
    "BookingAttendee",
    "BookingEvent",
    "CalcomAuthError",
    "CalcomBookerLimitReached",
    "CalcomClient",
    "CalcomError",
    "CalcomNotFound",
    "CalcomRateLimited",
    "CalcomRequestEvent",
    "CalcomSlotUnavailable",
    "CalcomUnavailable",
    "CalcomValidationError",
    "CancelBooking",
    "CreateBooking",
    "InvalidWebhook",
    "NewAttendee",
    "RescheduleBooking",
    "parse_webhook",
    "sign_webhook",
    "verify_webhook_signature",
]
