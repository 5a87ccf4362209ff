"""The Retell edge: request models, signature checks, call events, tool export and sync."""

from retell_booking_tools.retell.export import ExportFormat, UnknownToolName, export_tools
from retell_booking_tools.retell.sync import (
    RetellSyncError,
    SyncReport,
    ToolChange,
    plan_general_tools,
    sync_tools,
)

__all__ = [
    "ExportFormat",
    "RetellSyncError",
    "SyncReport",
    "ToolChange",
    "UnknownToolName",
    "export_tools",
    "plan_general_tools",
    "sync_tools",
]
