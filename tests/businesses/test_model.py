"""Which business a call belongs to, and the one business of a deployment without a file."""

from __future__ import annotations

from typing import Any

import pytest
from two_businesses import TWO_BUSINESSES

from retell_booking_tools.businesses import DEFAULT_BUSINESS_ID, Businesses, parse_businesses
from retell_booking_tools.config import Settings
from retell_booking_tools.retell.models import RetellCall

SPITZER_AGENT = "agent_6f0c1d2e"
ANA_AGENT = "agent_9a8b7c6d"
SPITZER_NUMBER = "+4930123456"
ANA_NUMBER = "+12125550123"
CALLER = "+4915112345678"


def _call(**fields: Any) -> RetellCall:
    return RetellCall.model_validate({"call_id": "call_1", **fields})


class TestForCall:
    """A call is the first business holding its agent id, else its business-side number."""

    def test_the_agent_id_picks_the_business(self, businesses: Businesses) -> None:
        found = businesses.for_call(ANA_AGENT, None)

        assert found is not None
        assert found.id == "salon-ana"

    def test_an_inbound_call_belongs_to_the_number_it_called(self, businesses: Businesses) -> None:
        call = _call(direction="inbound", from_number=CALLER, to_number=ANA_NUMBER)

        found = businesses.for_retell_call(call)

        assert found is not None
        assert found.id == "salon-ana"

    def test_an_outbound_call_belongs_to_the_number_it_came_from(
        self, businesses: Businesses
    ) -> None:
        call = _call(direction="outbound", from_number=SPITZER_NUMBER, to_number=ANA_NUMBER)

        found = businesses.for_retell_call(call)

        assert found is not None
        assert found.id == "praxis-spitzer"

    def test_the_agent_id_wins_over_the_number(self, businesses: Businesses) -> None:
        call = _call(agent_id=SPITZER_AGENT, direction="inbound", to_number=ANA_NUMBER)

        found = businesses.for_retell_call(call)

        assert found is not None
        assert found.id == "praxis-spitzer"

    def test_a_number_is_matched_whatever_its_formatting(self, businesses: Businesses) -> None:
        found = businesses.for_call("agent_unknown", "+1 (212) 555-0123")

        assert found is not None
        assert found.id == "salon-ana"

    def test_the_first_business_in_file_order_wins(self) -> None:
        text = TWO_BUSINESSES.replace(ANA_AGENT, SPITZER_AGENT).replace(ANA_NUMBER, SPITZER_NUMBER)
        both = parse_businesses(text)

        by_agent = both.for_call(SPITZER_AGENT, None)
        by_number = both.for_call(None, SPITZER_NUMBER)

        assert by_agent is not None
        assert by_number is not None
        assert (by_agent.id, by_number.id) == ("praxis-spitzer", "praxis-spitzer")

    @pytest.mark.parametrize(
        ("agent_id", "number"),
        [("agent_unknown", "+4940999999"), (None, None), ("agent_unknown", "not a number")],
    )
    def test_a_call_of_no_business_belongs_to_none(
        self, businesses: Businesses, agent_id: str | None, number: str | None
    ) -> None:
        assert businesses.for_call(agent_id, number) is None

    def test_the_caller_number_does_not_pick_a_business(self, businesses: Businesses) -> None:
        """A caller whose own number is a business's is still not that business's call."""
        call = _call(direction="inbound", from_number=ANA_NUMBER, to_number="+4940999999")

        assert businesses.for_retell_call(call) is None


class TestWithoutFile:
    """Without a businesses file the environment's settings are the one business default."""

    def test_the_single_business_settings_are_the_business_default(self) -> None:
        settings = Settings(
            CALCOM_API_URL="https://cal.example.org/api/v2",
            CALCOM_EVENT_TYPE_ID=42,
            RETELL_BOOKING_TIMEZONE="Europe/Vienna",
            RETELL_BOOKING_LANGUAGE="de",
        )

        (default,) = Businesses.from_settings(settings)

        assert default.id == DEFAULT_BUSINESS_ID
        assert default.implicit
        assert default.calcom_api_key_env == "CALCOM_API_KEY"
        assert default.calcom_api_url == "https://cal.example.org/api/v2"
        assert [service.event_type_id for service in default.services] == [42]
        assert (default.timezone, default.language) == ("Europe/Vienna", "de")

    def test_every_call_belongs_to_the_business_default(self) -> None:
        registry = Businesses.from_settings(Settings(CALCOM_EVENT_TYPE_ID=42))

        found = registry.for_call("agent_anything", None)

        assert found is not None
        assert found.id == DEFAULT_BUSINESS_ID

    def test_its_key_is_read_from_the_environment(self) -> None:
        (default,) = Businesses.from_settings(Settings(CALCOM_EVENT_TYPE_ID=42))

        assert default.calcom_api_key({"CALCOM_API_KEY": "cal_test_k"}) == "cal_test_k"
        assert default.calcom_api_key({"CALCOM_API_KEY": "  "}) is None

    def test_a_blank_businesses_variable_is_no_file(self) -> None:
        settings = Settings(RETELL_BOOKING_BUSINESSES=" ")

        assert settings.businesses is None
        assert Businesses.from_settings(settings).ids == (DEFAULT_BUSINESS_ID,)


def test_the_business_repr_names_no_key_variable_value(businesses: Businesses) -> None:
    assert repr(businesses["praxis-spitzer"]) == "Business(id='praxis-spitzer', services=2)"


def test_an_event_type_names_its_service_within_its_business_only(
    businesses: Businesses,
) -> None:
    spitzer, ana = businesses

    found = spitzer.service_for_event_type(2563194)

    assert found is not None
    assert found.name == "Nachberatung"
    assert ana.service_for_event_type(2563194) is None
