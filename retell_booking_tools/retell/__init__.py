"""The Retell edge: request models, signature checks, call events; tool export and sync
(from :mod:`retell_booking_tools.retell_admin`)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retell_booking_tools.retell_admin.export import (
        ExportFormat,
        UnknownToolName,
        export_tools,
    )
    from retell_booking_tools.retell_admin.plan import (
        RetellSyncError,
        ToolChange,
        plan_general_tools,
    )
    from retell_booking_tools.retell_admin.sync import (
        AgentPublication,
        SyncReport,
        sync_conversation_flow_tools,
        sync_tools,
    )
else:
    from retell_booking_tools.lazy_exports import lazy_exports as _lazy_exports

    __getattr__, __dir__ = _lazy_exports(
        __name__,
        {
            "retell_booking_tools.retell_admin.export": (
                "ExportFormat",
                "UnknownToolName",
                "export_tools",
            ),
            "retell_booking_tools.retell_admin.plan": (
                "RetellSyncError",
                "ToolChange",
                "plan_general_tools",
            ),
            "retell_booking_tools.retell_admin.sync": (
                "AgentPublication",
                "SyncReport",
                "sync_conversation_flow_tools",
                "sync_tools",
            ),
        },
    )

__all__ = [
    "AgentPublication",
    "ExportFormat",
    "RetellSyncError",
    "SyncReport",
    "ToolChange",
    "UnknownToolName",
    "export_tools",
    "plan_general_tools",
    "sync_conversation_flow_tools",
    "sync_tools",
]
