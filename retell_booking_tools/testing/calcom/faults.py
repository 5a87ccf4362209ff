"""Network and server failures the emulator can be told to produce, once or a few times."""

from __future__ import annotations

import enum

import attrs

from .wire import WireResponse


class FaultKind(enum.Enum):
    """What goes wrong. ``*_AFTER_COMMIT`` kinds process the request first: the write happened."""

    TIMEOUT = "timeout"
    TIMEOUT_AFTER_COMMIT = "timeout_after_commit"
    RESET_AFTER_COMMIT = "reset_after_commit"
    CONNECT_ERROR = "connect_error"
    SERVER_ERROR = "server_error"
    SERVER_ERROR_AFTER_COMMIT = "server_error_after_commit"
    RATE_LIMITED = "rate_limited"
    MALFORMED_JSON = "malformed_json"
    DELAY = "delay"

    @property
    def commits(self) -> bool:
        """Whether the request is processed (and any write kept) despite the fault."""
        return self in _PROCESSING_KINDS


_PROCESSING_KINDS = frozenset(
    {
        FaultKind.TIMEOUT_AFTER_COMMIT,
        FaultKind.RESET_AFTER_COMMIT,
        FaultKind.SERVER_ERROR_AFTER_COMMIT,
        FaultKind.MALFORMED_JSON,
        FaultKind.DELAY,
    }
)


@attrs.frozen
class Fault:
    """A fault for the next ``times`` requests matching ``method`` and ``path`` (None = any).

    ``path`` is compared exactly with the ``/v2/...`` path, without query string.
    """

    kind: FaultKind
    method: str | None = None
    path: str | None = None
    times: int = 1
    status_code: int = 500
    retry_after: int | None = None
    delay_seconds: float = 0.0

    def __attrs_post_init__(self) -> None:
        if self.times < 1:
            raise ValueError("a fault must hit at least one request")

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or self.path.rstrip("/") == path


class Disruption(enum.Enum):
    """How a connection misbehaves instead of (or after) answering."""

    TIMEOUT = "timeout"
    RESET = "reset"
    REFUSED = "refused"


@attrs.frozen
class Exchange:
    """The emulator's side of one request: an answer, a misbehaving connection, or both."""

    response: WireResponse | None
    disruption: Disruption | None = None


@attrs.define
class _Armed:
    fault: Fault
    left: int


class FaultQueue:
    """Injected faults in order; the first one matching a request is used up by it."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []

    def add(self, fault: Fault) -> None:
        self._armed.append(_Armed(fault, fault.times))

    def take(self, method: str, path: str) -> Fault | None:
        for armed in self._armed:
            if armed.fault.matches(method, path):
                armed.left -= 1
                if armed.left == 0:
                    self._armed.remove(armed)
                return armed.fault
        return None

    def clear(self) -> None:
        self._armed.clear()

    def pending(self) -> tuple[Fault, ...]:
        return tuple(armed.fault for armed in self._armed)
