"""The booking tools Retell calls, and the runner that serves them exactly once."""

from __future__ import annotations

from typing import Any

from retell_booking_tools.tools import (
    cancel_appointment,
    check_availability,
    collect_appointment_data,
    confirm_existing,
    find_appointments,
    reschedule_appointment,
)
from retell_booking_tools.tools.base import AppointmentView, Tool, ToolContext, ToolResult
from retell_booking_tools.tools.cancel_appointment import CancelAppointmentArgs
from retell_booking_tools.tools.check_availability import CheckAvailabilityArgs
from retell_booking_tools.tools.collect_appointment_data import CollectAppointmentDataArgs
from retell_booking_tools.tools.confirm_existing import ConfirmExistingArgs
from retell_booking_tools.tools.find_appointments import FindAppointmentsArgs
from retell_booking_tools.tools.reschedule_appointment import RescheduleAppointmentArgs
from retell_booking_tools.tools.runner import ToolRunner, UnknownTool, args_digest

ALL_TOOLS: tuple[Tool[Any], ...] = (
    check_availability.TOOL,
    collect_appointment_data.TOOL,
    confirm_existing.TOOL,
    find_appointments.TOOL,
    reschedule_appointment.TOOL,
    cancel_appointment.TOOL,
)
"""Every tool this package serves, in the order they are exported to Retell."""

__all__ = [
    "ALL_TOOLS",
    "AppointmentView",
    "CancelAppointmentArgs",
    "CheckAvailabilityArgs",
    "CollectAppointmentDataArgs",
    "ConfirmExistingArgs",
    "FindAppointmentsArgs",
    "RescheduleAppointmentArgs",
    "Tool",
    "ToolContext",
    "ToolResult",
    "ToolRunner",
    "UnknownTool",
    "args_digest",
]
