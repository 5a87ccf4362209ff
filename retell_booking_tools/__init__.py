"""Honest, typed appointment-booking tools for Retell AI voice agents, backed by Cal.com.

A tool result never claims more than happened (``booked`` is not ``existing``), and every
call that touches an appointment is linked to it.

Each name below is imported from its module on first use, so ``import retell_booking_tools``
stays quick for processes that start often.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retell_booking_tools.booking.availability import (
        Availability,
        AvailabilityRequest,
        AvailabilityService,
        OfferedSlots,
    )
    from retell_booking_tools.booking.core import BookingCore
    from retell_booking_tools.booking.decision import BookingRequest, BookingService
    from retell_booking_tools.booking.lifecycle import (
        AppointmentLifecycle,
        CancelRequest,
        RescheduleRequest,
    )
    from retell_booking_tools.booking.records import BookingOutcome, BookingPolicy
    from retell_booking_tools.booking.webhooks import CalcomSync, SyncOutcome
    from retell_booking_tools.calcom.client import CalcomClient
    from retell_booking_tools.calcom.errors import (
        CalcomAuthError,
        CalcomError,
        CalcomNotFound,
        CalcomRateLimited,
        CalcomSlotUnavailable,
        CalcomUnavailable,
        CalcomValidationError,
    )
    from retell_booking_tools.config import Settings
    from retell_booking_tools.domain import (
        Appointment,
        AppointmentStatus,
        Call,
        CallLink,
        Customer,
        Relationship,
        ToolStatus,
    )
    from retell_booking_tools.errors import (
        ConfigurationError,
        InvalidArguments,
        NotStarted,
        RepositoryError,
        RetellBookingError,
        SchemaOutOfDate,
    )
    from retell_booking_tools.ops.doctor import Doctor, DoctorReport, Problem
    from retell_booking_tools.ops.logs import configure_logging
    from retell_booking_tools.ops.metrics import Telemetry
    from retell_booking_tools.ops.stats import DayStats, daily_stats
    from retell_booking_tools.repository import InMemoryRepository, Repository, open_repository
    from retell_booking_tools.runtime import Runtime, build_runtime
    from retell_booking_tools.server import RetellEndpoints, create_app
    from retell_booking_tools.tools import ALL_TOOLS, Tool, ToolResult, ToolRunner
else:
    from retell_booking_tools.lazy_exports import lazy_exports as _lazy_exports

    __getattr__, __dir__ = _lazy_exports(
        __name__,
        {
            "retell_booking_tools.booking.availability": (
                "Availability",
                "AvailabilityRequest",
                "AvailabilityService",
                "OfferedSlots",
            ),
            "retell_booking_tools.booking.core": ("BookingCore",),
            "retell_booking_tools.booking.decision": ("BookingRequest", "BookingService"),
            "retell_booking_tools.booking.records": ("BookingOutcome", "BookingPolicy"),
            "retell_booking_tools.calcom.client": ("CalcomClient",),
            "retell_booking_tools.calcom.errors": (
                "CalcomAuthError",
                "CalcomError",
                "CalcomNotFound",
                "CalcomRateLimited",
                "CalcomSlotUnavailable",
                "CalcomUnavailable",
                "CalcomValidationError",
            ),
            "retell_booking_tools.booking.webhooks": ("CalcomSync", "SyncOutcome"),
            "retell_booking_tools.config": ("Settings",),
            "retell_booking_tools.ops.doctor": ("Doctor", "DoctorReport", "Problem"),
            "retell_booking_tools.domain": (
                "Appointment",
                "AppointmentStatus",
                "Call",
                "CallLink",
                "Customer",
                "Relationship",
                "ToolStatus",
            ),
            "retell_booking_tools.errors": (
                "ConfigurationError",
                "InvalidArguments",
                "NotStarted",
                "RepositoryError",
                "RetellBookingError",
                "SchemaOutOfDate",
            ),
            "retell_booking_tools.booking.lifecycle": (
                "AppointmentLifecycle",
                "CancelRequest",
                "RescheduleRequest",
            ),
            "retell_booking_tools.ops.logs": ("configure_logging",),
            "retell_booking_tools.ops.metrics": ("Telemetry",),
            "retell_booking_tools.repository": (
                "InMemoryRepository",
                "Repository",
                "open_repository",
            ),
            "retell_booking_tools.runtime": ("Runtime", "build_runtime"),
            "retell_booking_tools.server": ("RetellEndpoints", "create_app"),
            "retell_booking_tools.ops.stats": ("DayStats", "daily_stats"),
            "retell_booking_tools.tools": ("ALL_TOOLS", "Tool", "ToolResult", "ToolRunner"),
        },
    )

__version__ = "0.1.0"

__all__ = [
    "ALL_TOOLS",
    "Appointment",
    "AppointmentLifecycle",
    "AppointmentStatus",
    "Availability",
    "AvailabilityRequest",
    "AvailabilityService",
    "BookingCore",
    "BookingOutcome",
    "BookingPolicy",
    "BookingRequest",
    "BookingService",
    "CalcomAuthError",
    "CalcomClient",
    "CalcomError",
    "CalcomNotFound",
    "CalcomRateLimited",
    "CalcomSlotUnavailable",
    "CalcomSync",
    "CalcomUnavailable",
    "CalcomValidationError",
    "Call",
    "CallLink",
    "CancelRequest",
    "ConfigurationError",
    "Customer",
    "DayStats",
    "Doctor",
    "DoctorReport",
    "InMemoryRepository",
    "InvalidArguments",
    "NotStarted",
    "OfferedSlots",
    "Problem",
    "Relationship",
    "Repository",
    "RepositoryError",
    "RescheduleRequest",
    "RetellBookingError",
    "RetellEndpoints",
    "Runtime",
    "SchemaOutOfDate",
    "Settings",
    "SyncOutcome",
    "Telemetry",
    "Tool",
    "ToolResult",
    "ToolRunner",
    "ToolStatus",
    "__version__",
    "build_runtime",
    "configure_logging",
    "create_app",
    "daily_stats",
    "open_repository",
]
