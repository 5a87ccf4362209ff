"""The businesses file: what it takes, and every mistake named with its place and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from two_businesses import TWO_BUSINESSES

from retell_booking_tools.businesses import Businesses, Service, load_businesses, parse_businesses
from retell_booking_tools.config import DEFAULT_CALCOM_API_URL, Settings
from retell_booking_tools.errors import BusinessesFileError, ConfigurationError


def _problems(text: str) -> tuple[str, ...]:
    with pytest.raises(BusinessesFileError) as raised:
        parse_businesses(text)
    return raised.value.problems


def _edited(old: str, new: str, text: str = TWO_BUSINESSES) -> str:
    assert old in text
    return text.replace(old, new, 1)


class TestValidFile:
    """A file as the README shows it becomes businesses in file order."""

    def test_two_businesses_with_their_services_and_settings(self, businesses: Businesses) -> None:
        spitzer, ana = businesses

        assert businesses.ids == ("praxis-spitzer", "salon-ana")
        assert spitzer.name == "Praxis Spitzer"
        assert spitzer.services == (
            Service("Beratung", 2563193, ("Erstberatung", "consultation")),
            Service("Nachberatung", 2563194),
        )
        assert spitzer.agent_ids == ("agent_6f0c1d2e",)
        assert spitzer.phone_numbers == ("+4930123456",)
        assert (spitzer.timezone, spitzer.language) == ("Europe/Berlin", "de")
        assert ana.calcom_api_url == "https://api.cal.eu/v2"
        assert ana.calcom_api_key_env == "CALCOM_API_KEY_ANA"
        assert not spitzer.implicit

    def test_the_cal_com_url_defaults_to_the_single_business_default(self) -> None:
        text = _edited('calcom_api_url = "https://api.cal.com/v2"\n', "")

        assert parse_businesses(text).businesses[0].calcom_api_url == DEFAULT_CALCOM_API_URL

    def test_a_self_hosted_cal_com_url_is_taken(self) -> None:
        text = _edited("https://api.cal.com/v2", "http://cal.internal:3003/api/v2/")

        assert parse_businesses(text).businesses[0].calcom_api_url == (
            "http://cal.internal:3003/api/v2"
        )

    def test_phone_numbers_are_kept_in_e164(self) -> None:
        text = _edited('["+4930123456"]', '["+49 30 123456"]')

        assert parse_businesses(text).businesses[0].phone_numbers == ("+4930123456",)

    def test_the_file_is_read_from_the_settings_path(self, tmp_path: Path) -> None:
        path = tmp_path / "businesses.toml"
        path.write_text(TWO_BUSINESSES, encoding="utf-8")

        settings = Settings(RETELL_BOOKING_BUSINESSES=str(path))
        found = Businesses.from_settings(settings)

        assert settings.businesses == path
        assert found.source == path
        assert found.ids == ("praxis-spitzer", "salon-ana")


class TestMistakes:
    """Every mistake is named with its place in the file and its line."""

    def test_a_wrong_event_type_id_is_named_by_its_place_and_line(self) -> None:
        text = _edited("event_type_id = 7001", 'event_type_id = "7001"')

        (problem,) = _problems(text)

        assert problem.startswith("businesses[1].services[0].event_type_id: ")
        assert problem.endswith("(line 33)")

    def test_every_mistake_of_the_file_is_named_at_once(self) -> None:
        text = _edited('timezone = "Europe/Berlin"', 'timezone = "Europe/Berln"')
        text = _edited('language = "en"', 'language = "fr"', text)
        text = _edited('id = "salon-ana"', 'id = "Salon Ana"', text)

        problems = _problems(text)

        assert len(problems) == 3
        assert problems[0].startswith("businesses[0].timezone: unknown IANA time zone")
        assert problems[0].endswith("(line 8)")
        assert problems[1].startswith("businesses[1].id: ")
        assert problems[2].startswith("businesses[1].language: 'fr' is not a language")
        assert "(en, de)" in problems[2]

    def test_the_error_is_a_configuration_error_naming_the_file(self) -> None:
        text = _edited("2563194", "-1")

        with pytest.raises(ConfigurationError, match=r"^invalid businesses file x\.toml: "):
            parse_businesses(text, source="x.toml")

    def test_ids_are_unique(self) -> None:
        text = _edited('id = "salon-ana"', 'id = "praxis-spitzer"')

        assert _problems(text) == (
            "businesses[1].id: 'praxis-spitzer' is already the id of businesses[0] (line 21)",
        )

    def test_a_phone_number_must_be_e164(self) -> None:
        text = _edited('["+12125550123"]', '["2125550123"]')

        (problem,) = _problems(text)

        assert problem.startswith("businesses[1].phone_numbers: '2125550123' is not a valid E.164")
        assert problem.endswith("(line 24)")

    def test_two_services_cannot_share_a_name_or_alias(self) -> None:
        text = _edited('name = "Nachberatung"', 'name = "Nachberatung"\naliases = ["BERATUNG"]')

        assert _problems(text) == (
            "businesses[0].services[1].aliases[0]: 'BERATUNG' already names services[0] (line 18)",
        )

    def test_a_business_needs_a_service(self) -> None:
        text = TWO_BUSINESSES.split('[[businesses.services]]\nname = "Haircut"')[0]

        (problem,) = _problems(text)

        assert problem.startswith("businesses[1].services: ")
        assert problem.endswith("(line 20)")

    def test_a_business_no_call_can_reach_is_refused(self) -> None:
        text = _edited('agent_ids = ["agent_9a8b7c6d"]\nphone_numbers = ["+12125550123"]\n', "")

        assert _problems(text) == (
            "businesses[1]: no agent_ids and no phone_numbers: no call can reach this business "
            "(line 20)",
        )

    def test_an_unknown_setting_is_named(self) -> None:
        text = _edited('language = "de"', 'language = "de"\nlanguages = ["de"]')

        assert _problems(text) == ("businesses[0].languages: unknown setting (line 10)",)

    def test_toml_syntax_errors_name_their_line(self) -> None:
        (problem,) = _problems(_edited('name = "Salon Ana"', "name = Salon Ana"))

        assert problem.startswith("not valid TOML: ")
        assert "line 22" in problem

    def test_a_missing_file_is_a_businesses_file_error(self, tmp_path: Path) -> None:
        with pytest.raises(BusinessesFileError, match="cannot be read"):
            load_businesses(tmp_path / "missing.toml")


class TestKeysNeverInTheFile:
    """A file that seems to hold an API key is refused without repeating it."""

    KEY = "cal_live_0123456789abcdef0123456789abcdef"

    def test_a_key_instead_of_the_variable_name_is_refused(self) -> None:
        text = _edited('"CALCOM_API_KEY_ANA"', f'"{self.KEY}"')

        with pytest.raises(BusinessesFileError) as raised:
            parse_businesses(text)

        assert raised.value.problems == (
            "businesses[1].calcom_api_key_env: looks like an API key; the key never stands in "
            "the file: put it in an environment variable and name that variable in "
            "calcom_api_key_env (line 25)",
        )
        assert self.KEY not in str(raised.value)

    def test_a_key_anywhere_in_the_file_is_refused(self) -> None:
        text = _edited('aliases = ["cut"]', f'aliases = ["cut", "{self.KEY}"]')

        with pytest.raises(BusinessesFileError) as raised:
            parse_businesses(text)

        assert raised.value.problems[0].startswith(
            "businesses[1].services[0].aliases[1]: looks like an API key"
        )
        assert self.KEY not in str(raised.value)

    def test_a_key_setting_is_refused_whatever_its_value(self) -> None:
        secret = "sk-0123456789abcdef"
        text = _edited('language = "en"', f'language = "en"\ncalcom_api_key = "{secret}"')

        with pytest.raises(BusinessesFileError) as raised:
            parse_businesses(text)

        (problem,) = raised.value.problems
        assert problem.startswith("businesses[1].calcom_api_key: unknown setting; the key never")
        assert secret not in str(raised.value)

    def test_the_variable_name_must_be_an_environment_variable_name(self) -> None:
        text = _edited('"CALCOM_API_KEY_ANA"', '"my key"')

        (problem,) = _problems(text)

        assert problem.startswith("businesses[1].calcom_api_key_env: String should match")
