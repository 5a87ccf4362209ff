"""The inbound Retell edge: request models (:mod:`.models`), signature checks
(:mod:`.signature`), call events (:mod:`.events`) and per-call overrides (:mod:`.overrides`).

Exporting and syncing tool schemas live apart, in :mod:`retell_booking_tools.retell_admin`;
their names are also importable from here, as earlier releases documented, and are loaded
only when used.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retell_booking_tools.errors import RetellSyncError, UnknownToolName
    from retell_booking_tools.retell_admin.export import ExportFormat, export_tools
    from retell_booking_tools.retell_admin.plan import ToolChange, plan_general_tools
    from retell_booking_tools.retell_admin.sync import (
        AgentPublication,
        PinnedNumber,
        SyncReport,
        sync_conversation_flow_tools,
        sync_tools,
    )
else:
    from retell_booking_tools.lazy_exports import lazy_exports as _lazy_exports

    __getattr__, __dir__ = _lazy_exports(
        __name__,
        {
            "retell_booking_tools.errors": ("RetellSyncError", "UnknownToolName"),
            "retell_booking_tools.retell_admin.export": ("ExportFormat", "export_tools"),
            "retell_booking_tools.retell_admin.plan": ("ToolChange", "plan_general_tools"),
            "retell_booking_tools.retell_admin.sync": (
                "AgentPublication",
                "PinnedNumber",
                "SyncReport",
                "sync_conversation_flow_tools",
                "sync_tools",
            ),
        },
    )

__all__ = [
    "AgentPublication",
    "ExportFormat",
    "PinnedNumber",
    "RetellSyncError",
    "SyncReport",
    "ToolChange",
    "UnknownToolName",
    "export_tools",
    "plan_general_tools",
    "sync_conversation_flow_tools",
    "sync_tools",
]
