"""Safe, structured logs: every line of a tool call names it, no line names a person.

:func:`configure_logging` installs one handler on the root logger whose filters

- add ``call_id``, ``tool`` and ``status`` to every record logged while a function call
  runs (``status`` is ``running`` until the answer is known), and
- mask API keys, Retell signatures, emails and phone numbers in the message, the
  arguments, extra fields and tracebacks (:func:`mask`),

and formats as text or, with ``RETELL_BOOKING_LOG_FORMAT=json``, one JSON object per line.

uvicorn's own loggers (``uvicorn``, ``uvicorn.error``, ``uvicorn.access``) are routed
through the same handler: startup lines, access lines (whose paths and query strings are
masked like messages, digit runs included, see :func:`mask_path`) and "Exception in ASGI
application" tracebacks. ``serve`` hands uvicorn :func:`uvicorn_log_config`, so every
process it starts logs this way from its first line.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from retell_booking_tools.config import Settings

__all__ = [
    "UVICORN_LOGGERS",
    "JsonFormatter",
    "LogFormat",
    "MaskingFilter",
    "ToolCallContextFilter",
    "build_handler",
    "configure_logging",
    "deployment_secrets",
    "handler_from_environment",
    "mask",
    "mask_path",
    "set_tool_status",
    "tool_call_context",
    "uvicorn_log_config",
]

HANDLER_NAME = "retell_booking_tools"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_ACCESS_LOGGER = "uvicorn.access"

LogFormat = Literal["text", "json"]

_CONTEXT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "retell_booking_tool_call", default=None
)
_CONTEXT_FIELDS = ("call_id", "tool", "status")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9.\-]+\.[A-Za-z]{2,}", re.IGNORECASE)
_PHONE = re.compile(r"(?:\+|%2B)\d[\d\s().\-]{5,}\d", re.IGNORECASE)
_SIGNATURE = re.compile(r"v=\d{10,},d=[0-9a-fA-F]+")
_API_KEY = re.compile(r"\b(cal|key|cal_live|cal_test)_[A-Za-z0-9_\-]{6,}")
_MIN_SECRET = 4


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without credentials or contact details; a phone keeps its last two digits."""
    for secret in sorted((s for s in secrets if len(s) >= _MIN_SECRET), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _SIGNATURE.sub("v=***,d=***", text)
    text = _API_KEY.sub(lambda m: f"{m.group(1)}_***", text)
    text = _EMAIL.sub("<email>", text)
    return _PHONE.sub(_masked_phone, text)


_DIGIT_RUN = re.compile(r"\d{6,}")
_DIGITS_WITH_SEPARATORS = re.compile(r"[+(]*\d[\d\s().\-+/]*\d")
_PATH_PHONE_DIGITS = 7
_MAX_DECODES = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ACCESS_PATH_ARG = 2
"""uvicorn's access record: ``(client, method, path with query, http version, status)``."""


def mask_path(path: str, secrets: Iterable[str] = ()) -> str:
    """A request path and query string fit for a log line, as a caller may have spelt it.

    Percent-encoding is undone until nothing changes (``%2540`` is ``@``; a literal ``+``
    is a space), then :func:`mask` applies; any run of at least seven digits with separators
    (``(415) 555-0134``, ``+49 151 2345 6789``) is a phone, and any other run of six or more
    digits is cut to its last two. Control characters are written back percent-encoded, so
    a path never forges a line.
    """
    decoded = urllib.parse.unquote_plus(path)
    for _ in range(_MAX_DECODES):
        step = urllib.parse.unquote(decoded)
        if step == decoded:
            break
        decoded = step
    masked = _DIGITS_WITH_SEPARATORS.sub(_masked_digits, mask(decoded, secrets))
    masked = _DIGIT_RUN.sub(lambda m: f"<digits …{m.group()[-2:]}>", masked)
    return _CONTROL.sub(lambda m: f"%{ord(m.group()):02X}", masked)


def _masked_digits(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    if len(digits) < _PATH_PHONE_DIGITS:
        return match.group()
    return f"<phone …{digits[-2:]}>"


def _masked_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group().upper().replace("%2B", ""))
    return f"<phone …{digits[-2:]}>"


@contextmanager
def tool_call_context(call_id: str, tool: str) -> Iterator[None]:
    """Within the block (and tasks started in it), log records carry this call and tool."""
    token = _CONTEXT.set({"call_id": call_id, "tool": tool, "status": "running"})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def set_tool_status(status: str) -> None:
    """The answer is known: later records of this tool call carry it."""
    context = _CONTEXT.get()
    if context is not None:
        context["status"] = status


class ToolCallContextFilter(logging.Filter):
    """Adds ``call_id``, ``tool`` and ``status`` of the running tool call to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get()
        if context is not None:
            for name in _CONTEXT_FIELDS:
                if getattr(record, name, None) is None:
                    setattr(record, name, context[name])
        return True


_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
"""Record attributes that are not extra fields (uvicorn's ``color_message`` repeats the
message with terminal colours)."""


class MaskingFilter(logging.Filter):
    """Masks the message, its arguments, extra fields and any traceback of each record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == _ACCESS_LOGGER and isinstance(args, tuple) and len(args) > 2:
            path = args[_ACCESS_PATH_ARG]
            if isinstance(path, str):
                masked = mask_path(path, self._secrets)
                record.args = (*args[:_ACCESS_PATH_ARG], masked, *args[_ACCESS_PATH_ARG + 1 :])
        record.msg = mask(record.getMessage(), self._secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text, self._secrets)
        record.exc_info = None
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, mask(value, self._secrets))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, tool-call fields, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = " ".join(
            f"{name}={getattr(record, name)}"
            for name in _CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        )
        return f"{text} [{fields}]" if fields else text


def build_handler(
    log_format: LogFormat = "text",
    *,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """The masking handler: tool-call fields, masking, then text or JSON (stderr by default)."""
    handler: logging.StreamHandler[IO[str]] = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    handler.set_name(HANDLER_NAME)
    handler.addFilter(ToolCallContextFilter())
    handler.addFilter(MaskingFilter(secrets))
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    return handler


def configure_logging(
    log_format: LogFormat = "text",
    *,
    level: int = logging.INFO,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Route the root logger through one masking handler; returns it (replacing an earlier one).

    uvicorn's loggers lose handlers of their own and pass their records to it too.
    ``secrets`` are exact values (API keys) masked wherever they appear.
    """
    handler = build_handler(log_format, secrets=secrets, stream=stream)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    _route_uvicorn_loggers()
    # Alembic narrates every schema check at INFO; only its warnings are news.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    return handler


def _route_uvicorn_loggers() -> None:
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        for own in list(logger.handlers):
            logger.removeHandler(own)
        logger.propagate = True


def handler_from_environment(log_format: LogFormat = "text") -> logging.Handler:
    """:func:`build_handler` masking the credentials the environment configures.

    For ``logging.config.dictConfig`` (:func:`uvicorn_log_config`), which builds handlers
    in every worker process from names alone.
    """
    from retell_booking_tools.config import Settings
    from retell_booking_tools.errors import ConfigurationError

    try:
        secrets = deployment_secrets(Settings.from_env())
    except ConfigurationError:
        secrets = ()
    return build_handler(log_format, secrets=secrets)


def deployment_secrets(settings: Settings) -> tuple[str, ...]:
    """Every credential a deployment holds, to mask: the settings' own, and with a
    businesses file the Cal.com keys its key variables hold."""
    if settings.businesses is None:
        return settings.secrets()
    from retell_booking_tools.businesses.file import business_keys

    return settings.secrets() + business_keys(settings.businesses)


def uvicorn_log_config(log_format: LogFormat = "text") -> dict[str, Any]:
    """uvicorn's ``log_config``: every logger, uvicorn's included, through the masking handler."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            HANDLER_NAME: {
                "()": f"{__name__}.handler_from_environment",
                "log_format": log_format,
            }
        },
        "root": {"handlers": [HANDLER_NAME], "level": "INFO"},
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": "INFO"} for name in UVICORN_LOGGERS
        },
    }


class _StderrHandler(logging.StreamHandler[IO[str]]):
    """Writes to whatever ``sys.stderr`` is at the time, so a swapped stream never goes stale."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)
