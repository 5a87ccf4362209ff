"""Cal.com's HTTP conventions: envelopes, error codes, instant formats."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@attrs.frozen
class WireRequest:
    """A request reduced to what the emulated API looks at; ``path`` starts at ``/v2``."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @classmethod
    def build(
        cls, method: str, raw_path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> WireRequest:
        """Keep only the ``/v2/...`` part of the path, so any base URL prefix works."""
        index = raw_path.find("/v2/")
        path = raw_path[index:] if index >= 0 else raw_path
        if raw_path.endswith("/v2"):
            path = "/v2"
        if len(path) > 1:
            path = path.rstrip("/")
        return cls(
            method=method.upper(),
            path=path,
            query=query,
            headers={name.lower(): value for name, value in headers.items()},
            body=body,
        )

    @property
    def url(self) -> str:
        """Path and query string, as Cal.com echoes it in error envelopes."""
        if not self.query:
            return self.path
        return self.path + "?" + "&".join(f"{key}={value}" for key, value in self.query.items())

    def json_body(self) -> Any:
        """The parsed body, or None when it is empty or not JSON."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@attrs.frozen
class WireResponse:
    status: int
    body: bytes
    headers: dict[str, str] = attrs.Factory(dict)

    def with_headers(self, extra: dict[str, str]) -> WireResponse:
        return attrs.evolve(self, headers={**self.headers, **extra})


_CODES = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "NotFoundException",
    409: "ConflictException",
    429: "ThrottlerException",
    500: "InternalServerErrorException",
    502: "BadGatewayException",
    503: "ServiceUnavailableException",
    504: "GatewayTimeoutException",
}


class ApiError(Exception):
    """An answer the emulated API gives as its error envelope."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "HttpException")
        self.details = details


def validation_error(messages: list[str]) -> ApiError:
    """The shape NestJS's ValidationPipe gives: all messages, joined, and listed in details."""
    return ApiError(
        400,
        ", ".join(messages),
        details={"message": messages, "error": "Bad Request", "statusCode": 400},
    )


def success(data: Any, status: int = 200, pagination: dict[str, Any] | None = None) -> WireResponse:
    payload: dict[str, Any] = {"status": "success", "data": data}
    if pagination is not None:
        payload["pagination"] = pagination
    return json_response(status, payload)


def failure(error: ApiError, request_url: str, now: datetime) -> WireResponse:
    payload = {
        "status": "error",
        "timestamp": utc_z(now),
        "path": request_url,
        "error": {"code": error.code, "message": error.message, "details": error.details},
    }
    return json_response(error.status, payload)


def json_response(status: int, payload: Any) -> WireResponse:
    return WireResponse(
        status=status,
        body=json.dumps(payload, ensure_ascii=False).encode(),
        headers={"content-type": JSON_CONTENT_TYPE},
    )


def utc_z(instant: datetime) -> str:
    """``2025-10-10T09:00:00.000Z``: UTC, milliseconds, ``Z``, as Cal.com writes instants."""
    value = instant.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def local_iso(instant: datetime, zone: ZoneInfo) -> str:
    """Milliseconds with the zone's offset; ``Z`` when the zone is UTC itself (as luxon does)."""
    if zone.key in {"UTC", "Etc/UTC", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal"}:
        return utc_z(instant)
    return instant.astimezone(zone).isoformat(timespec="milliseconds")


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; without an offset it counts as UTC (as Cal.com's server does)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_range_bound(text: str, *, end: bool) -> datetime:
    """A slots range bound: a UTC date means its whole day, so an end date is inclusive."""
    if _DATE_ONLY.match(text):
        day = date.fromisoformat(text)
        start_of_day = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start_of_day + timedelta(days=1) - timedelta(milliseconds=1) if end else start_of_day
    return parse_instant(text)
