"""``businesses check`` as an operator runs it: two Cal.com accounts served over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retell_booking_tools.cli import app
from retell_booking_tools.testing import CalcomEmulator, EventTypeSpec, serve_asgi_in_thread

SPITZER_KEY = "cal_test_spitzer_0123456789abcdef"
ANA_KEY = "cal_test_ana_fedcba9876543210"
BERATUNG, NACHBERATUNG, HAIRCUT = 2563193, 2563194, 7001


@contextmanager
def _served(emulator: CalcomEmulator) -> Iterator[str]:
    """The emulator over loopback HTTP from a thread, as a real Cal.com would be."""
    try:
        with serve_asgi_in_thread(emulator.asgi_app) as url:
            yield f"{url}/v2"
    finally:
        emulator.close()


@pytest.fixture(name="spitzer")
def fixture_spitzer() -> CalcomEmulator:
    emulator = CalcomEmulator(api_key=SPITZER_KEY)
    emulator.add_event_type(EventTypeSpec(id=BERATUNG, title="Beratung", length_minutes=60))
    emulator.add_event_type(EventTypeSpec(id=NACHBERATUNG, title="Nachberatung"))
    return emulator


@pytest.fixture(name="ana")
def fixture_ana() -> CalcomEmulator:
    emulator = CalcomEmulator(api_key=ANA_KEY)
    emulator.add_event_type(EventTypeSpec(id=HAIRCUT, title="Haircut", length_minutes=45))
    return emulator


@pytest.fixture(name="urls")
def fixture_urls(spitzer: CalcomEmulator, ana: CalcomEmulator) -> Iterator[tuple[str, str]]:
    with _served(spitzer) as spitzer_url, _served(ana) as ana_url:
        yield spitzer_url, ana_url


def _file(tmp_path: Path, spitzer_url: str, ana_url: str, haircut: int = HAIRCUT) -> str:
    path = tmp_path / "businesses.toml"
    path.write_text(
        f"""\
[[businesses]]
id = "praxis-spitzer"
name = "Praxis Spitzer"
agent_ids = ["agent_6f0c1d2e"]
calcom_api_key_env = "CALCOM_API_KEY_SPITZER"
calcom_api_url = "{spitzer_url}"
timezone = "Europe/Berlin"
language = "de"

[[businesses.services]]
name = "Beratung"
aliases = ["Erstberatung"]
event_type_id = {BERATUNG}

[[businesses.services]]
name = "Nachberatung"
event_type_id = {NACHBERATUNG}

[[businesses]]
id = "salon-ana"
name = "Salon Ana"
phone_numbers = ["+12125550123"]
calcom_api_key_env = "CALCOM_API_KEY_ANA"
calcom_api_url = "{ana_url}"
timezone = "America/New_York"
language = "en"

[[businesses.services]]
name = "Haircut"
event_type_id = {haircut}
""",
        encoding="utf-8",
    )
    return str(path)


def _check(
    path: str, *args: str, spitzer_key: str | None = SPITZER_KEY, ana_key: str | None = ANA_KEY
) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app,
        ["businesses", "check", *args],
        env={
            "RETELL_BOOKING_BUSINESSES": path,
            "CALCOM_API_KEY_SPITZER": spitzer_key,
            "CALCOM_API_KEY_ANA": ana_key,
        },
    )
    return result.exit_code, result.stdout, result.stderr


def _no_key_in(*texts: str) -> None:
    for text in texts:
        assert SPITZER_KEY not in text
        assert ANA_KEY not in text


class TestCheck:
    """Each business is checked with its own key against its own Cal.com."""

    def test_two_ready_businesses_pass(self, tmp_path: Path, urls: tuple[str, str]) -> None:
        code, out, err = _check(_file(tmp_path, *urls))

        assert code == 0, err
        assert "praxis-spitzer (Praxis Spitzer): ok" in out
        assert "key CALCOM_API_KEY_SPITZER: present" in out
        assert f"service Beratung: event type {BERATUNG} found (Beratung, 60 min)" in out
        assert f"service Haircut: event type {HAIRCUT} found (Haircut, 45 min)" in out
        _no_key_in(out, err)

    def test_each_account_is_read_once_per_event_type_with_its_own_key(
        self,
        tmp_path: Path,
        urls: tuple[str, str],
        spitzer: CalcomEmulator,
        ana: CalcomEmulator,
    ) -> None:
        """A key the emulator does not hold is refused, so found means the right key."""
        code, out, _ = _check(_file(tmp_path, *urls), "--json")

        report = json.loads(out)
        assert code == 0
        assert report["ok"] is True
        assert [r.path for r in spitzer.requests] == [
            f"/v2/event-types/{BERATUNG}",
            f"/v2/event-types/{NACHBERATUNG}",
        ]
        assert [r.path for r in ana.requests] == [f"/v2/event-types/{HAIRCUT}"]
        assert {r.headers.get("cal-api-version") for r in ana.requests} == {"2024-06-14"}

    def test_a_missing_key_variable_is_a_problem_and_skips_that_account(
        self, tmp_path: Path, urls: tuple[str, str], ana: CalcomEmulator
    ) -> None:
        code, out, err = _check(_file(tmp_path, *urls), ana_key=None)

        assert code == 1
        assert "salon-ana (Salon Ana): PROBLEMS" in out
        assert "key CALCOM_API_KEY_ANA: missing" in out
        assert "praxis-spitzer (Praxis Spitzer): ok" in out
        assert ana.requests == []
        _no_key_in(out, err)

    def test_an_event_type_cal_com_does_not_have_is_a_problem(
        self, tmp_path: Path, urls: tuple[str, str]
    ) -> None:
        code, out, err = _check(_file(tmp_path, *urls, haircut=999), "--json")

        report = json.loads(out)
        salon = report["businesses"][1]
        assert code == 1
        assert report["ok"] is False
        assert salon["ok"] is False
        assert salon["services"] == [
            {
                "service": "Haircut",
                "event_type_id": 999,
                "event_type": "missing",
                "detail": "Cal.com has no event type 999",
            }
        ]
        assert report["businesses"][0]["ok"] is True
        _no_key_in(out, err)

    def test_a_key_cal_com_refuses_is_a_problem_and_never_printed(
        self, tmp_path: Path, urls: tuple[str, str]
    ) -> None:
        """Each business's variable holding the other's key: both refused, neither shown."""
        code, out, err = _check(_file(tmp_path, *urls), spitzer_key=ANA_KEY, ana_key=SPITZER_KEY)

        assert code == 1
        assert out.count("refused") == 3
        _no_key_in(out, err)

    def test_json_names_key_variables_as_present_or_missing(
        self, tmp_path: Path, urls: tuple[str, str]
    ) -> None:
        code, out, err = _check(_file(tmp_path, *urls), "--json", spitzer_key=None)

        report = json.loads(out)
        assert code == 1
        assert [(b["business_id"], b["key"]) for b in report["businesses"]] == [
            ("praxis-spitzer", "missing"),
            ("salon-ana", "present"),
        ]
        assert report["businesses"][0]["services"][0]["event_type"] == "unchecked"
        _no_key_in(out, err)


class TestOffline:
    """``--offline`` checks the file and the key variables, and asks no Cal.com."""

    def test_offline_asks_no_account(self, tmp_path: Path) -> None:
        """Cal.com at an address that cannot resolve: any request would be a problem."""
        path = _file(tmp_path, "https://cal.invalid/v2", "https://cal.invalid/v2", haircut=999)

        code, out, err = _check(path, "--offline")

        assert code == 0, err
        assert "event type 999 unchecked (offline)" in out
        _no_key_in(out, err)

    def test_offline_still_reports_a_missing_key(self, tmp_path: Path) -> None:
        path = _file(tmp_path, "https://cal.invalid/v2", "https://cal.invalid/v2")

        code, out, _ = _check(path, "--offline", spitzer_key="  ")

        assert code == 1
        assert "key CALCOM_API_KEY_SPITZER: missing" in out


class TestInvalidFile:
    """A file with mistakes exits 2 and names each with its place."""

    def test_a_mistake_is_named_with_its_place_and_line(self, tmp_path: Path) -> None:
        path = Path(_file(tmp_path, "https://a.example/v2", "https://b.example/v2"))
        path.write_text(path.read_text().replace('"Europe/Berlin"', '"Europe/Berln"'))

        code, out, err = _check(str(path), "--offline")

        assert code == 2
        assert out == ""
        assert "businesses[0].timezone: unknown IANA time zone 'Europe/Berln' (line 7)" in err

    def test_a_key_in_the_file_is_refused_and_not_printed(self, tmp_path: Path) -> None:
        path = Path(_file(tmp_path, "https://a.example/v2", "https://b.example/v2"))
        path.write_text(path.read_text().replace('"CALCOM_API_KEY_ANA"', f'"{ANA_KEY}"'))

        code, out, err = _check(str(path), "--offline")

        assert code == 2
        assert "businesses[1].calcom_api_key_env: looks like an API key" in err
        _no_key_in(out, err)


def test_without_a_file_the_environments_business_is_checked(spitzer: CalcomEmulator) -> None:
    with _served(spitzer) as url:
        result = CliRunner().invoke(
            app,
            ["businesses", "check"],
            env={
                "RETELL_BOOKING_BUSINESSES": None,
                "CALCOM_API_KEY": SPITZER_KEY,
                "CALCOM_API_URL": url,
                "CALCOM_EVENT_TYPE_ID": str(BERATUNG),
            },
        )

    assert result.exit_code == 0, result.stderr
    assert "businesses from the environment" in result.stdout
    assert "default (default): ok" in result.stdout
    assert f"event type {BERATUNG} found (Beratung, 60 min)" in result.stdout
    _no_key_in(result.stdout, result.stderr)
