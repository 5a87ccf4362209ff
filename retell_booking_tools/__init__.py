"""Honest, typed appointment-booking tools for Retell AI voice agents, backed by Cal.com.

A tool result never claims more than happened (``booked`` is not ``existing``), and every
call that touches an appointment is linked to it.
"""

from retell_booking_tools.booking import (
    BookingOutcome,
    BookingPolicy,
    BookingRequest,
    BookingService,
)
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
    NotOwner,
    RepositoryError,
    RetellBookingError,
    SchemaOutOfDate,
)
from retell_booking_tools.repository import InMemoryRepository, Repository, open_repository
from retell_booking_tools.runtime import Runtime, build_runtime
from retell_booking_tools.server import NotStarted, RetellEndpoints, create_app
from retell_booking_tools.tools import ALL_TOOLS, Tool, ToolResult, ToolRunner

__version__ = "0.1.0"

__all__ = [
    "ALL_TOOLS",
    "Appointment",
    "AppointmentStatus",
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
    "CalcomUnavailable",
    "CalcomValidationError",
    "Call",
    "CallLink",
    "ConfigurationError",
    "Customer",
    "InMemoryRepository",
    "InvalidArguments",
    "NotOwner",
    "NotStarted",
    "Relationship",
    "Repository",
    "RepositoryError",
    "RetellBookingError",
    "RetellEndpoints",
    "Runtime",
    "SchemaOutOfDate",
    "Settings",
    "Tool",
    "ToolResult",
    "ToolRunner",
    "ToolStatus",
    "__version__",
    "build_runtime",
    "create_app",
    "open_repository",
]
