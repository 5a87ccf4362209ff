"""Export this package's tools as Retell tool definitions, and keep Retell in step with them.

The inbound Retell edge (requests, signatures, events) is :mod:`retell_booking_tools.retell`;
this package talks to Retell's API instead. Its public names are also importable from
:mod:`retell_booking_tools.retell`, as the README documents them.
"""

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
