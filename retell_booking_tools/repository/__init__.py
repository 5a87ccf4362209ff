"""Pluggable persistence: a Protocol, its implementations, and opening one from a URL.

Importing this package imports neither SQLAlchemy nor psycopg; opening a SQL store does.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retell_booking_tools.repository.factory import (
        database_revision,
        open_repository,
        upgrade_database,
    )
    from retell_booking_tools.repository.memory import InMemoryRepository
    from retell_booking_tools.repository.postgres import PostgresRepository
    from retell_booking_tools.repository.protocol import (
        AppointmentStore,
        BusinessScoped,
        CallRecords,
        Reports,
        Repository,
        SupportReads,
        ToolCallLedger,
        store_for_business,
    )
    from retell_booking_tools.repository.sql import SqlRepository
    from retell_booking_tools.repository.sqlite import SqliteRepository
else:
    from retell_booking_tools.lazy_exports import lazy_exports as _lazy_exports

    __getattr__, __dir__ = _lazy_exports(
        __name__,
        {
            "retell_booking_tools.repository.factory": (
                "database_revision",
                "open_repository",
                "upgrade_database",
            ),
            "retell_booking_tools.repository.memory": ("InMemoryRepository",),
            "retell_booking_tools.repository.postgres": ("PostgresRepository",),
            "retell_booking_tools.repository.protocol": (
                "AppointmentStore",
                "BusinessScoped",
                "CallRecords",
                "Reports",
                "Repository",
                "SupportReads",
                "ToolCallLedger",
                "store_for_business",
            ),
            "retell_booking_tools.repository.sql": ("SqlRepository",),
            "retell_booking_tools.repository.sqlite": ("SqliteRepository",),
        },
    )

__all__ = [
    "AppointmentStore",
    "BusinessScoped",
    "CallRecords",
    "InMemoryRepository",
    "PostgresRepository",
    "Reports",
    "Repository",
    "SqlRepository",
    "SqliteRepository",
    "SupportReads",
    "ToolCallLedger",
    "database_revision",
    "open_repository",
    "store_for_business",
    "upgrade_database",
]
