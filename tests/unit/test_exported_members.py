"""The public surface is exactly what ``__all__`` says."""

from __future__ import annotations

import retell_booking_tools
import retell_booking_tools.testing


def _public(module: object) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("retell_booking_tools")
    }


def test_every_public_member_of_the_package_is_in_all() -> None:
    assert _public(retell_booking_tools) <= set(retell_booking_tools.__all__)
    for name in retell_booking_tools.__all__:
        assert hasattr(retell_booking_tools, name), name


def test_every_testing_helper_is_exported() -> None:
    assert _public(retell_booking_tools.testing) <= set(retell_booking_tools.testing.__all__)
    assert "CalcomEmulator" in retell_booking_tools.testing.__all__
    assert "RetellSimulator" in retell_booking_tools.testing.__all__
