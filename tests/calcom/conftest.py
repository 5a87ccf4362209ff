"""Shared fixtures for the Cal.com boundary: retries without waiting, and cassette hygiene.

Cassettes in ``tests/cassettes/calcom`` replay real HTTP of :class:`CalcomClient`. They
are recorded by running the cassette tests with ``RETELL_BOOKING_RECORD=1`` (see
``tests/calcom/record_cassettes.py``): against the Cal.com emulator served over HTTP on
loopback by default, or against a real account when ``CALCOM_API_KEY`` is set. Before
anything is written, credentials are dropped and attendee data is replaced by stable
placeholders; JSON bodies are stored as YAML so a diff reads like the API.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import pytest
import stamina
import vcr
from cassette_hygiene import (
    JsonBodyScrubber,
    scrubbed_vcr,
)
from vcr.cassette import Cassette

from retell_booking_tools.calcom import (
    BOOKINGS_API_VERSION,
    DEFAULT_API_URL,
    SLOTS_API_VERSION,
    CalcomClient,
    CalcomError,
)

CASSETTES = Path(
    os.environ.get("RETELL_BOOKING_CASSETTE_DIR")
    or Path(__file__).resolve().parents[1] / "cassettes" / "calcom"
)
"""The committed cassettes; the record script points this at a scratch directory."""
RECORDING_FILE = CASSETTES / "recording.json"
"""What the committed cassettes were recorded against, and the inputs the tests replay with."""

RECORDING = os.environ.get("RETELL_BOOKING_RECORD") == "1"
RECORDING_REAL_CALCOM = RECORDING and bool(os.environ.get("CALCOM_API_KEY"))

PLACEHOLDER_EMAIL = "attendee@example.com"
PLACEHOLDER_NAME = "Alex Example"
PLACEHOLDER_PATTERN = re.compile(r"^(attendee|host|guest|someone)\d*@example\.com$")
REPLAY_API_KEY = "cal_test_replay_only"

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+\d[\d ()./-]{5,}\d")


@pytest.fixture(autouse=True)
def _retries_without_waiting() -> Iterator[None]:
    """Keep each client's own ``max_attempts`` but skip every backoff wait.

    Recording against a real account keeps real backoff, so a 429 is waited out.
    """
    if RECORDING_REAL_CALCOM:
        yield
        return
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


# -- scrubbing --------------------------------------------------------------------------------


class PersonalDataScrubber(JsonBodyScrubber):
    """Replaces attendee, host and guest details with stable placeholders.

    One instance per cassette. The n-th distinct person becomes ``attendee{n}@example.com``
    (the first plain ``attendee@example.com``), so replayed requests, scrubbed the same way,
    still match. Values learned in one place (an attendee's name) are also replaced
    wherever else they appear (a booking title).
    """

    def __init__(self) -> None:
        self._known: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def scrub_uri(self, uri: str) -> str:
        parts = urlsplit(uri)
        if not parts.query:
            return uri
        query = [
            (key, self._query_value(key, value))
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        ]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def scrub_document(self, document: Any) -> Any:
        self._learn(document, role="attendee")
        return self._replace(document)

    def text(self, value: str) -> str:
        """Known values first (longest first), then any e-mail or phone still left."""
        for real in sorted(self._known, key=len, reverse=True):
            if real in value:
                value = value.replace(real, self._known[real])
        value = EMAIL.sub(lambda m: self._email(m.group(), "someone"), value)
        return PHONE.sub(lambda m: self._phone(m.group()), value)

    def _query_value(self, key: str, value: str) -> str:
        if key in {"attendeeEmail", "filters[attendeeEmail]"}:
            return self._email(value, "attendee")
        if key in {"attendeeName", "filters[attendeeName]"}:
            return self._name(value, "attendee")
        return self.text(value)

    def _learn(self, node: Any, role: str) -> None:
        """Walk the document and register each person's details under a placeholder."""
        if isinstance(node, list):
            for item in node:
                self._learn(item, role)
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key in {"hosts", "organizer", "user"}:
                self._learn(value, "host")
            elif key == "guests" and isinstance(value, list):
                for guest in value:
                    if isinstance(guest, str):
                        self._email(guest, "guest")
            elif isinstance(value, str) and key in {"email", "attendeeEmail"}:
                self._email(value, role)
            elif isinstance(value, str) and key in {"name", "attendeeName"}:
                self._name(value, role)
            elif isinstance(value, str) and key in {"phoneNumber", "attendeePhoneNumber"}:
                self._phone(value)
            else:
                self._learn(value, role)

    def _replace(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {key: self._replace(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self._replace(item) for item in node]
        if isinstance(node, str):
            return self.text(node)
        return node

    def _email(self, real: str, role: str) -> str:
        if PLACEHOLDER_PATTERN.match(real):
            return real
        return self._placeholder(
            real.lower(), role, lambda n: f"{role}{'' if n == 1 else n}@example.com"
        )

    def _name(self, real: str, role: str) -> str:
        if real == PLACEHOLDER_NAME or not real.strip():
            return real
        title = role.capitalize()
        return self._placeholder(
            real,
            f"{role}-name",
            lambda n: PLACEHOLDER_NAME if role == "attendee" and n == 1 else f"{title} {n}",
        )

    def _phone(self, real: str) -> str:
        return self._placeholder(real, "phone", lambda n: f"+1555010{n:04d}")

    def _placeholder(self, real: str, kind: str, make: Callable[[int], str]) -> str:
        if real in self._known:
            return self._known[real]
        if real in self._known.values():
            return real
        self._counts[kind] = self._counts.get(kind, 0) + 1
        self._known[real] = make(self._counts[kind])
        return self._known[real]


@pytest.fixture(name="scrubber")
def fixture_scrubber() -> PersonalDataScrubber:
    return PersonalDataScrubber()


# -- readable cassettes (shared with the Retell cassettes) ----------------------------------


def calcom_vcr(scrubber: PersonalDataScrubber, *, record: bool = RECORDING) -> vcr.VCR:
    """The one vcrpy configuration for Cal.com cassettes, replay-only unless recording."""
    return scrubbed_vcr(
        CASSETTES, scrub_request=scrubber.request, scrub_response=scrubber.response, record=record
    )


# -- where recordings come from ---------------------------------------------------------------


@attrs.frozen
class Recording:
    """The inputs the cassette tests use; recorded once, replayed forever after."""

    recorded_against: str
    recorded_on: str
    package_version: str
    slots_api_version: str
    bookings_api_version: str
    api_url: str
    event_type_id: int
    time_zone: str
    window_start: datetime
    window_end: datetime
    attendee_name: str
    attendee_email: str

    def save(self) -> None:
        CASSETTES.mkdir(parents=True, exist_ok=True)
        document = attrs.asdict(self)
        document["window_start"] = self.window_start.isoformat()
        document["window_end"] = self.window_end.isoformat()
        document["attendee_email"] = PLACEHOLDER_EMAIL
        document["attendee_name"] = PLACEHOLDER_NAME
        RECORDING_FILE.write_text(json.dumps(document, indent=2) + "\n")

    @classmethod
    def load(cls) -> Recording:
        document = json.loads(RECORDING_FILE.read_text())
        document["window_start"] = datetime.fromisoformat(document["window_start"])
        document["window_end"] = datetime.fromisoformat(document["window_end"])
        return cls(**document)


@attrs.frozen
class CalcomTarget:
    """Where the client talks to: a real account, the emulator on loopback, or a cassette."""

    recording: Recording
    api_key: str
    start_server: Callable[[], contextlib.AbstractContextManager[str]] | None = None


EMULATOR_NOW = datetime(2050, 9, 1, 8, 0, tzinfo=UTC)
EMULATOR_EVENT_TYPE_ID = 2563193
EMULATOR_API_KEY = "cal_test_emulator_key"


@contextlib.contextmanager
def serve_emulator() -> Iterator[str]:
    """A fresh emulated account served by uvicorn on 127.0.0.1; yields its API URL."""

    from retell_booking_tools.testing import (
        BusinessHours,
        CalcomEmulator,
        EventTypeSpec,
        FakeClock,
        serve_asgi_in_thread,
    )

    emulator = CalcomEmulator(api_key=EMULATOR_API_KEY, clock=FakeClock(EMULATOR_NOW))
    emulator.add_event_type(
        EventTypeSpec(
            id=EMULATOR_EVENT_TYPE_ID,
            title="Beratung",
            length_minutes=30,
            timezone="Europe/Berlin",
            business_hours=BusinessHours(),
        )
    )
    try:
        with serve_asgi_in_thread(emulator.asgi_app) as url:
            yield f"{url}/v2"
    finally:
        emulator.close()


def _package_version() -> str:
    try:
        return metadata.version("retell-booking-tools")
    except metadata.PackageNotFoundError:
        return "0"


def _emulator_target() -> CalcomTarget:
    recording = Recording(
        recorded_against=(
            "retell_booking_tools.testing.CalcomEmulator served by uvicorn over HTTP "
            "on 127.0.0.1 (FakeClock at 2050-09-01T08:00Z)"
        ),
        recorded_on=date.today().isoformat(),
        package_version=_package_version(),
        slots_api_version=SLOTS_API_VERSION,
        bookings_api_version=BOOKINGS_API_VERSION,
        api_url="http://127.0.0.1/v2",
        event_type_id=EMULATOR_EVENT_TYPE_ID,
        time_zone="Europe/Berlin",
        window_start=datetime(2050, 9, 5, tzinfo=UTC),
        window_end=datetime(2050, 9, 7, tzinfo=UTC),
        attendee_name=PLACEHOLDER_NAME,
        attendee_email=PLACEHOLDER_EMAIL,
    )
    return CalcomTarget(recording, EMULATOR_API_KEY, serve_emulator)


def _real_target() -> CalcomTarget:
    api_url = os.environ.get("CALCOM_API_URL", DEFAULT_API_URL).rstrip("/")
    try:
        event_type_id = int(os.environ["CALCOM_EVENT_TYPE_ID"])
    except (KeyError, ValueError):
        pytest.exit("recording against Cal.com needs CALCOM_EVENT_TYPE_ID (an integer)")
    tomorrow = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow += timedelta(days=1)
    recording = Recording(
        recorded_against=f"Cal.com at {urlsplit(api_url).netloc} (a real account)",
        recorded_on=date.today().isoformat(),
        package_version=_package_version(),
        slots_api_version=SLOTS_API_VERSION,
        bookings_api_version=BOOKINGS_API_VERSION,
        api_url=api_url,
        event_type_id=event_type_id,
        time_zone=os.environ.get("CALCOM_TIME_ZONE", "Europe/Berlin"),
        window_start=tomorrow,
        window_end=tomorrow + timedelta(days=7),
        attendee_name=os.environ.get("CALCOM_ATTENDEE_NAME", PLACEHOLDER_NAME),
        attendee_email=os.environ.get("CALCOM_ATTENDEE_EMAIL", PLACEHOLDER_EMAIL),
    )
    return CalcomTarget(recording, os.environ["CALCOM_API_KEY"])


@pytest.fixture(name="calcom_target", scope="session")
def fixture_calcom_target() -> CalcomTarget:
    if not RECORDING:
        return CalcomTarget(Recording.load(), REPLAY_API_KEY)
    target = _real_target() if RECORDING_REAL_CALCOM else _emulator_target()
    target.recording.save()
    return target


@pytest.fixture(name="recording")
def fixture_recording(calcom_target: CalcomTarget) -> Recording:
    return calcom_target.recording


RecordedClient = Callable[[str], contextlib.AbstractAsyncContextManager[CalcomClient]]


@pytest.fixture(name="recorded")
def fixture_recorded(calcom_target: CalcomTarget) -> RecordedClient:
    """``async with recorded("name") as client``: a client whose HTTP is that cassette.

    On replay the test fails if any recorded interaction was left unplayed.
    """

    @contextlib.asynccontextmanager
    async def recorded(name: str) -> AsyncIterator[CalcomClient]:
        with contextlib.ExitStack() as stack:
            api_url = calcom_target.recording.api_url
            if RECORDING and calcom_target.start_server is not None:
                api_url = stack.enter_context(calcom_target.start_server())
            recorder = calcom_vcr(PersonalDataScrubber())
            cassette: Cassette = stack.enter_context(recorder.use_cassette(f"{name}.yaml"))
            async with CalcomClient(api_key=calcom_target.api_key, base_url=api_url) as client:
                yield client
            if not RECORDING:
                assert cassette.all_played, (
                    f"{name}.yaml: {len(cassette) - cassette.play_count} recorded "
                    "interaction(s) were never requested; re-record the cassette"
                )
        if RECORDING_REAL_CALCOM:
            await _cancel_leftovers(calcom_target)

    return recorded


async def _cancel_leftovers(target: CalcomTarget) -> None:
    """Recording on a real account books real slots; give them back, outside any cassette."""
    recording = target.recording
    async with CalcomClient(api_key=target.api_key, base_url=recording.api_url) as client:
        bookings = await client.list_bookings(
            attendee_email=recording.attendee_email,
            event_type_id=recording.event_type_id,
            status=["upcoming", "unconfirmed"],
        )
        for booking in bookings:
            with contextlib.suppress(CalcomError):
                await client.cancel_booking(booking.uid, reason="cassette recording cleanup")
