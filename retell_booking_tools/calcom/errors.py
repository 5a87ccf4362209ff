"""Cal.com's errors, one class per way a caller reacts differently; they live in
:mod:`retell_booking_tools.errors` with the rest of the tree, and are importable from here."""

from retell_booking_tools.errors import (
    CalcomAuthError,
    CalcomBookerLimitReached,
    CalcomBudgetExhausted,
    CalcomError,
    CalcomNotFound,
    CalcomRateLimited,
    CalcomSlotUnavailable,
    CalcomUnavailable,
    CalcomValidationError,
)

__all__ = [
    "CalcomAuthError",
    "CalcomBookerLimitReached",
    "CalcomBudgetExhausted",
    "CalcomError",
    "CalcomNotFound",
    "CalcomRateLimited",
    "CalcomSlotUnavailable",
    "CalcomUnavailable",
    "CalcomValidationError",
]
