"""The support console: calls, appointments, daily numbers and doctor's findings in a browser.

Served under ``/console`` by :class:`~retell_booking_tools.server.RetellEndpoints` when
``RETELL_BOOKING_CONSOLE_PASSWORD`` is set. Server-rendered HTML (Jinja2, autoescaped), one
stylesheet, no script: it works offline and under ``Content-Security-Policy: default-src
'self'``. It only reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.routing import Mount

from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import Settings
from retell_booking_tools.console.app import Console
from retell_booking_tools.console.auth import Access, Credential

if TYPE_CHECKING:
    from retell_booking_tools.runtime import Runtime

__all__ = ["Access", "Console", "Credential", "console_credentials", "console_mount"]


def console_credentials(settings: Settings) -> list[Credential]:
    """The passwords that sign in: the global one (sees everything), if set.

    Businesses' own passwords (``console_password_env`` in a businesses file) are added
    here with ``Access(business_id=...)`` once businesses exist.
    """
    password = settings.console_password
    if password is None or not password.get_secret_value():
        return []
    return [Credential(password=password.get_secret_value(), access=Access())]


def console_mount(
    settings: Settings, runtime: Callable[[], Runtime | None], *, clock: Clock = system_clock
) -> Mount | None:
    """The ``/console`` mount, or None when no console password is configured (then every
    ``/console`` path is the app's plain 404)."""
    credentials = console_credentials(settings)
    if not credentials:
        return None
    console = Console(settings=settings, runtime=runtime, credentials=credentials, clock=clock)
    return Mount("/console", app=console.app)
