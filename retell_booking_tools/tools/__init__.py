"""The booking tools Retell calls, and the runner that serves them exactly once."""

from __future__ import annotations

from typing import Any

from retell_booking_tools.tools import collect_appointment_data, confirm_existing
from retell_booking_tools.tools.base import AppointmentView, Tool, ToolContext, ToolResult
from retell_booking_tools.tools.collect_appointment_data import CollectAppointmentDataArgs
from retell_booking_tools.tools.confirm_existing import ConfirmExistingArgs
from retell_booking_tools.tools.runner import ToolRunner, UnknownTool, args_digest

ALL_TOOLS: tuple[Tool[Any], ...] = (collect_appointment_data.TOOL, confirm_existing.TOOL)
"""Every tool this package serves, in the order they are exported to Retell."""

__all__ = [
    "ALL_TOOLS",
    "AppointmentView",
    "CollectAppointmentDataArgs",
    "ConfirmExistingArgs",
    "Tool",
    "ToolContext",
    "ToolResult",
    "ToolRunner",
    "UnknownTool",
    "args_digest",
]
