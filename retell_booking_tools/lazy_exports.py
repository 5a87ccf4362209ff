"""Public names of a package, imported from their modules on first use (PEP 562).

A server process starts often (serverless backends start one per burst of calls), and
``import retell_booking_tools`` must not pay for SQLAlchemy, httpx or babel before anything
needs them. A package lists its exports under ``if TYPE_CHECKING:`` for type checkers and
hands the same names to :func:`lazy_exports` for run time.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping


def lazy_exports(
    package: str, exports: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, given ``{module: names}``.

    A name is imported from its module the first time it is asked for and then bound on the
    package, so later lookups cost nothing extra; an unknown name is an AttributeError.
    """
    home = {name: module for module, names in exports.items() for name in names}

    def module_getattr(name: str) -> object:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def module_dir() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | home.keys())

    return module_getattr, module_dir
