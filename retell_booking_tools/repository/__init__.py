"""Pluggable persistence: a Protocol, its implementations, and opening one from a URL.

Importing this package does not import psycopg; only opening a PostgreSQL store does.
"""

from retell_booking_tools.repository.factory import (
    database_revision,
    open_repository,
    upgrade_database,
)
from retell_booking_tools.repository.memory import InMemoryRepository
from retell_booking_tools.repository.postgres import PostgresRepository
from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.repository.sql import SqlRepository
from retell_booking_tools.repository.sqlite import SqliteRepository

__all__ = [
    "InMemoryRepository",
    "PostgresRepository",
    "Repository",
    "SqlRepository",
    "SqliteRepository",
    "database_revision",
    "open_repository",
    "upgrade_database",
]
