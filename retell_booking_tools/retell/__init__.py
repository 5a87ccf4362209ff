"""The Retell edge: request models, signature checks, tool schema export and sync."""

from retell_booking_tools.retell.export import ExportFormat, UnknownToolName, export_tools

__all__ = ["ExportFormat", "UnknownToolName", "export_tools"]
