"""The public surface is exactly what ``__all__`` says."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

import retell_booking_tools
import retell_booking_tools.testing

PACKAGES = (
    "retell_booking_tools",
    "retell_booking_tools.businesses",
    "retell_booking_tools.calcom",
    "retell_booking_tools.repository",
    "retell_booking_tools.retell",
    "retell_booking_tools.retell_admin",
    "retell_booking_tools.testing",
    "retell_booking_tools.tools",
)


def _public(module: object) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("retell_booking_tools")
    }


def _resolve_all(module: ModuleType) -> None:
    for name in module.__all__:
        assert getattr(module, name, None) is not None, f"{module.__name__}.{name}"


def test_every_public_member_of_the_package_is_in_all() -> None:
    _resolve_all(retell_booking_tools)
    assert _public(retell_booking_tools) <= set(retell_booking_tools.__all__)


def test_every_testing_helper_is_exported() -> None:
    _resolve_all(retell_booking_tools.testing)
    assert _public(retell_booking_tools.testing) <= set(retell_booking_tools.testing.__all__)
    assert "CalcomEmulator" in retell_booking_tools.testing.__all__
    assert "RetellSimulator" in retell_booking_tools.testing.__all__


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_resolves_and_is_listed_by_dir(package: str) -> None:
    """A name in ``__all__`` is importable from the package and listed by ``dir()``."""
    module = importlib.import_module(package)
    _resolve_all(module)
    assert set(module.__all__) <= set(dir(module))


@pytest.mark.parametrize("package", PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    """A misspelt import fails as it would without lazy exports."""
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = module.no_such_name


@pytest.mark.parametrize("package", PACKAGES)
def test_a_star_import_binds_every_exported_name(package: str) -> None:
    """``from package import *`` still brings in exactly ``__all__``."""
    namespace: dict[str, object] = {}
    exec(f"from {package} import *", namespace)

    assert set(namespace) - {"__builtins__"} == set(importlib.import_module(package).__all__)
