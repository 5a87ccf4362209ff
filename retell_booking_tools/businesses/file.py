"""The businesses file (``RETELL_BOOKING_BUSINESSES``): TOML read with ``tomllib``, validated
with pydantic, every mistake named with its place in the file and, where it can be found,
its line.

API keys never stand in the file: each business names the environment variable that holds
its key (``calcom_api_key_env``), and a file that seems to hold a key instead is refused
without repeating it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
)

from retell_booking_tools.businesses.model import Business, Businesses, Service, e164
from retell_booking_tools.businesses.services import normalize
from retell_booking_tools.config import DEFAULT_CALCOM_API_URL, Language
from retell_booking_tools.errors import BusinessesFileError
from retell_booking_tools.messages import CATALOG

ID_PATTERN = r"^[a-z0-9-]+$"
KEY_VARIABLE_PATTERN = r"^[A-Z][A-Z0-9_]*$"
_KEY_PREFIXES = ("cal_live_", "cal_test_", "cal_")
_KEY_IN_FILE = (
    "looks like an API key; the key never stands in the file: put it in an environment "
    "variable and name that variable in calcom_api_key_env"
)
Loc = tuple[str | int, ...]


def load_businesses(path: Path | str) -> Businesses:
    """The businesses of the file at ``path``, or BusinessesFileError naming every mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"cannot be read: {exc.__class__.__name__}"
        raise BusinessesFileError(str(path), (problem,)) from None
    return parse_businesses(text, source=path)


def parse_businesses(text: str, *, source: Path | str = "businesses.toml") -> Businesses:
    """The businesses of a file's text; ``source`` names the file in errors."""
    where = str(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BusinessesFileError(where, (f"not valid TOML: {exc}",)) from None
    lines = _Lines.of(text)
    keys = [_problem(loc, _KEY_IN_FILE, lines) for loc in _key_like_values(data, ())]
    if keys:
        raise BusinessesFileError(where, tuple(keys))
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(tuple(e["loc"]), _reason(e), lines) for e in exc.errors()]
        raise BusinessesFileError(where, tuple(problems)) from None
    problems = [_problem(loc, reason, lines) for loc, reason in _cross_checks(parsed)]
    if problems:
        raise BusinessesFileError(where, tuple(problems))
    return Businesses(tuple(entry.business() for entry in parsed.businesses), Path(source))


def _printable_name(value: str) -> str:
    if any(not char.isprintable() for char in value):
        raise ValueError("has control characters")
    return value


Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable_name)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _ServiceEntry(_Entry):
    name: Name
    aliases: list[Name] = []
    event_type_id: StrictInt = Field(gt=0)

    def service(self) -> Service:
        return Service(self.name, self.event_type_id, tuple(self.aliases))


class _BusinessEntry(_Entry):
    id: str = Field(pattern=ID_PATTERN, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    agent_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = []
    phone_numbers: list[str] = []
    calcom_api_key_env: str = Field(pattern=KEY_VARIABLE_PATTERN, max_length=200)
    calcom_api_url: str = DEFAULT_CALCOM_API_URL
    timezone: str
    language: str
    services: list[_ServiceEntry] = Field(min_length=1)

    @field_validator("phone_numbers")
    @classmethod
    def _e164(cls, numbers: list[str]) -> list[str]:
        normalised = []
        for number in numbers:
            found = e164(number) if number.startswith("+") else None
            if found is None:
                raise ValueError(
                    f"{number!r} is not a valid E.164 number (+, country code, number)"
                )
            normalised.append(found)
        return list(dict.fromkeys(normalised))

    @field_validator("calcom_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("not an http(s) URL, e.g. https://api.cal.com/v2")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("language")
    @classmethod
    def _spoken(cls, value: str) -> str:
        if value not in CATALOG:
            raise ValueError(f"{value!r} is not a language of the messages ({', '.join(CATALOG)})")
        return value

    def business(self) -> Business:
        language = cast(Language, self.language)  # one of CATALOG's, checked above
        return Business(
            id=self.id,
            name=self.name,
            services=tuple(service.service() for service in self.services),
            calcom_api_key_env=self.calcom_api_key_env,
            calcom_api_url=self.calcom_api_url,
            timezone=self.timezone,
            language=language,
            agent_ids=tuple(dict.fromkeys(self.agent_ids)),
            phone_numbers=tuple(self.phone_numbers),
        )


class _File(_Entry):
    businesses: list[_BusinessEntry] = Field(min_length=1)


def _cross_checks(parsed: _File) -> Iterator[tuple[Loc, str]]:
    """What no one entry shows: unique ids, unique service names, a way to reach each."""
    seen_ids: dict[str, int] = {}
    for index, entry in enumerate(parsed.businesses):
        here: Loc = ("businesses", index)
        if entry.id in seen_ids:
            yield (
                (*here, "id"),
                f"{entry.id!r} is already the id of businesses[{seen_ids[entry.id]}]",
            )
        seen_ids.setdefault(entry.id, index)
        if not entry.agent_ids and not entry.phone_numbers:
            yield here, "no agent_ids and no phone_numbers: no call can reach this business"
        yield from _service_names(entry.services, here)


def _service_names(services: Sequence[_ServiceEntry], here: Loc) -> Iterator[tuple[Loc, str]]:
    named: dict[str, int] = {}
    for index, service in enumerate(services):
        terms: list[tuple[Loc, str]] = [((*here, "services", index, "name"), service.name)]
        terms += [
            ((*here, "services", index, "aliases", alias_index), alias)
            for alias_index, alias in enumerate(service.aliases)
        ]
        for loc, term in terms:
            key = normalize(term).replace(" ", "")
            if not key:
                yield loc, f"{term!r} has no letters or digits to say"
            elif named.get(key, index) != index:
                yield loc, f"{term!r} already names services[{named[key]}]"
            else:
                named[key] = index


def _key_like_values(node: Any, loc: Loc) -> Iterator[Loc]:
    """Places of strings that look like a Cal.com API key, wherever they stand."""
    if isinstance(node, str):
        if node.strip().startswith(_KEY_PREFIXES):
            yield loc
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _key_like_values(value, (*loc, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _key_like_values(value, (*loc, index))


def _reason(error: Any) -> str:
    """Pydantic's message without the ``Value error, `` prefix; never the input itself."""
    if error["type"] == "extra_forbidden" and "key" in str(error["loc"][-1]).lower():
        return "unknown setting; " + _KEY_IN_FILE.split("; ", 1)[1]
    if error["type"] == "extra_forbidden":
        return "unknown setting"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _problem(loc: Loc, reason: str, lines: _Lines) -> str:
    place = _place(loc)
    line = lines.line_of(loc)
    return f"{place}: {reason}" + (f" (line {line})" if line else "")


def _place(loc: Loc) -> str:
    """``businesses[1].services[0].event_type_id`` for pydantic's location tuple."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "file"


_TABLE = re.compile(r"^\s*\[\[\s*businesses\s*\]\]")
_SERVICE_TABLE = re.compile(r"^\s*\[\[\s*businesses\s*\.\s*services\s*\]\]")
_OTHER_TABLE = re.compile(r"^\s*\[")
_KEY_LINE = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")


@attrs.frozen
class _Lines:
    """Where each business, service and key starts, for files written as tables.

    A file written another way (inline tables, dotted keys) simply gets no line numbers.
    """

    starts: dict[tuple[int, int | None, str | None], int]

    @classmethod
    def of(cls, text: str) -> _Lines:
        starts: dict[tuple[int, int | None, str | None], int] = {}
        business, service, inside = -1, None, False
        for number, line in enumerate(text.splitlines(), start=1):
            if _SERVICE_TABLE.match(line):
                service = 0 if service is None else service + 1
                inside = business >= 0
                starts.setdefault((business, service, None), number)
            elif _TABLE.match(line):
                business, service, inside = business + 1, None, True
                starts.setdefault((business, None, None), number)
            elif _OTHER_TABLE.match(line):
                inside = False
            elif inside and (match := _KEY_LINE.match(line)):
                key = next(group for group in match.groups() if group)
                starts.setdefault((business, service, key), number)
        return cls(starts)

    def line_of(self, loc: Loc) -> int | None:
        if len(loc) < 2 or loc[0] != "businesses" or not isinstance(loc[1], int):
            return None
        business = loc[1]
        rest = loc[2:]
        service: int | None = None
        if len(rest) >= 2 and rest[0] == "services" and isinstance(rest[1], int):
            service, rest = rest[1], rest[2:]
        key = str(rest[0]) if rest and isinstance(rest[0], str) else None
        for candidate in ((business, service, key), (business, service, None)):
            if candidate in self.starts:
                return self.starts[candidate]
        return self.starts.get((business, None, None))


def business_keys(path: Path) -> tuple[str, ...]:
    """The Cal.com keys the key variables of the businesses file at ``path`` hold (none for
    a file that cannot be read: serving refuses that one anyway)."""
    try:
        businesses = load_businesses(path)
    except Exception:
        return ()
    return tuple(key for b in businesses if (key := b.calcom_api_key()) is not None)
