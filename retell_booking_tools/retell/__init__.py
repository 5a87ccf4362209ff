"""The Retell edge: request models, signature checks, call events, tool export and sync."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retell_booking_tools.retell.export import ExportFormat, UnknownToolName, export_tools
    from retell_booking_tools.retell.sync import (
        RetellSyncError,
        SyncReport,
        ToolChange,
        plan_general_tools,
        sync_tools,
    )
else:
    from retell_booking_tools.lazy_exports import lazy_exports as _lazy_exports

    __getattr__, __dir__ = _lazy_exports(
        __name__,
        {
            "retell_booking_tools.retell.export": (
                "ExportFormat",
                "UnknownToolName",
                "export_tools",
            ),
            "retell_booking_tools.retell.sync": (
                "RetellSyncError",
                "SyncReport",
                "ToolChange",
                "plan_general_tools",
                "sync_tools",
            ),
        },
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
