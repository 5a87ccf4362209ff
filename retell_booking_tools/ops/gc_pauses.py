"""Short garbage-collector pauses for a server process that owns its interpreter.

CPython's collector walks every tracked object of a generation on each pass, and a served
process holds hundreds of thousands that live as long as it does (modules, pydantic
validators, SQLAlchemy's compiled statements, babel's locale data). A full pass over them
took 170-270 ms on the 2-core machine, inside whichever function call happened to allocate
at that moment: a caller heard that as silence (``benchmarks/profile_paths.py`` reports the
collector's time per path).

:class:`PauseShortener` moves what exists once the runtime is built into the permanent
generation (:func:`gc.freeze`), which passes never walk, and does so once more after the
first :data:`WARM_CALLS` function calls, by which time first-use caches and lazily imported
modules are built too. Garbage made later is collected as before. Only a process that
serves from its environment (``serve``, ``uvicorn --factory``) does this: an app mounted in
yours leaves your interpreter alone.
"""

from __future__ import annotations

import gc

__all__ = ["WARM_CALLS", "PauseShortener"]

WARM_CALLS = 200
"""Function calls after which the process counts as warm and is frozen once more."""


class PauseShortener:
    """Freezes the process's long-lived objects at startup and once it is warm."""

    def __init__(self, *, warm_calls: int = WARM_CALLS) -> None:
        self._warm_calls = warm_calls
        self._calls = 0

    def started(self) -> None:
        """The runtime is built: what exists now lives as long as the process."""
        _freeze()

    def served(self) -> None:
        """One function call was answered; the one that makes the process warm freezes."""
        self._calls += 1
        if self._calls == self._warm_calls:
            _freeze()


def _freeze() -> None:
    # Collect first, so garbage that exists now is freed rather than kept for good.
    gc.collect()
    gc.freeze()
