"""Which service the caller means, from what speech-to-text made of its name."""

from __future__ import annotations

import pytest

from retell_booking_tools.businesses import (
    Business,
    Businesses,
    Service,
    ServiceMatch,
    ServiceRefusal,
)
from retell_booking_tools.config import Settings
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.messages import CATALOG

BERATUNG = Service("Beratung", 2563193, ("Erstberatung", "consultation"))
NACHBERATUNG = Service("Nachberatung", 2563194)
KONTROLLE = Service("Kontrolle", 2563195, ("Check-up",))
PRAXIS = Business(
    id="praxis-spitzer",
    name="Praxis Spitzer",
    services=(BERATUNG, NACHBERATUNG, KONTROLLE),
    calcom_api_key_env="CALCOM_API_KEY_SPITZER",
    timezone="Europe/Berlin",
    language="de",
    agent_ids=("agent_6f0c1d2e",),
)
DAMEN = Service("Haarschnitt Damen", 1)
HERREN = Service("Haarschnitt Herren", 2)
SALON = Business(
    id="salon",
    name="Salon",
    services=(DAMEN, HERREN, Service("Färben", 3, ("Coloration",))),
    calcom_api_key_env="CALCOM_API_KEY_SALON",
    agent_ids=("agent_salon",),
)


def _chosen(business: Business, spoken: str | None) -> Service:
    choice = business.service(spoken)
    assert isinstance(choice, ServiceMatch), choice
    return choice.service


def _refused(business: Business, spoken: str | None) -> ServiceRefusal:
    choice = business.service(spoken)
    assert isinstance(choice, ServiceRefusal), choice
    return choice


class TestTheIssuesCases:
    """The issue's words: "Berater", "beratung" and an alias pick "Beratung"."""

    @pytest.mark.parametrize("spoken", ["Berater", "beratung", "Erstberatung", "consultation"])
    def test_each_picks_beratung(self, spoken: str) -> None:
        assert _chosen(PRAXIS, spoken) == BERATUNG


class TestSpeechToTextVariants:
    """Case, inflection, compounds, filler words and misheard letters still find the service."""

    @pytest.mark.parametrize(
        ("spoken", "service"),
        [
            ("BERATUNG", BERATUNG),
            ("  beratung. ", BERATUNG),
            ("Beratungen", BERATUNG),
            ("Beratungstermin", BERATUNG),
            ("Beratungsgespräch", BERATUNG),
            ("Bratung", BERATUNG),
            ("eine Beratung bitte", BERATUNG),
            ("Erst Beratung", BERATUNG),
            ("consultations", BERATUNG),
            ("Nachberatung", NACHBERATUNG),
            ("Nach Beratung", NACHBERATUNG),
            ("Nach-Beratung", NACHBERATUNG),
            ("eine Nachberatung", NACHBERATUNG),
            ("Nachberatungstermin", NACHBERATUNG),
            ("Nachberater", NACHBERATUNG),
            ("checkup", KONTROLLE),
            ("Kontrole", KONTROLLE),
        ],
    )
    def test_praxis(self, spoken: str, service: Service) -> None:
        assert _chosen(PRAXIS, spoken) == service

    @pytest.mark.parametrize(
        ("spoken", "service"),
        [
            ("Haarschnitt für Herren", HERREN),
            ("Herrenhaarschnitt", HERREN),
            ("haarschnitt damen", DAMEN),
            ("farben", SALON.services[2]),
            ("Faerben", SALON.services[2]),
            ("Färbung", SALON.services[2]),
        ],
    )
    def test_salon(self, spoken: str, service: Service) -> None:
        assert _chosen(SALON, spoken) == service


class TestNearCollisions:
    """Names inside other names pick the one that covers what was said, or ask."""

    def test_beratung_is_not_nachberatung(self) -> None:
        assert _chosen(PRAXIS, "Beratung") == BERATUNG
        assert _chosen(PRAXIS, "Nachberatung") == NACHBERATUNG

    def test_a_name_shared_by_two_services_is_ambiguous(self) -> None:
        refusal = _refused(SALON, "Haarschnitt")

        assert refusal.reason == "ambiguous"
        assert refusal.offered == (DAMEN, HERREN)

    def test_two_exact_names_in_separate_words_are_ambiguous(self) -> None:
        refusal = _refused(PRAXIS, "Beratung oder Kontrolle")

        assert refusal.reason == "ambiguous"
        assert refusal.offered_names == ("Beratung", "Kontrolle")


class TestRefusals:
    """Unknown, ambiguous or missing services are invalid on field service, naming the offer."""

    @pytest.mark.parametrize("spoken", ["Massage", "Termin", "ich hätte gern einen Termin"])
    def test_an_unknown_service_lists_every_service(self, spoken: str) -> None:
        refusal = _refused(PRAXIS, spoken)

        assert refusal.reason == "unknown"
        assert refusal.field == "service"
        assert refusal.offered == PRAXIS.services

    @pytest.mark.parametrize("spoken", [None, "", "   "])
    def test_no_service_with_several_on_offer_lists_them(self, spoken: str | None) -> None:
        refusal = _refused(PRAXIS, spoken)

        assert refusal.reason == "missing"
        assert refusal.offered == PRAXIS.services

    def test_the_refusal_is_invalid_arguments_on_service(self) -> None:
        error = _refused(PRAXIS, "Massage").error()

        assert isinstance(error, InvalidArguments)
        assert error.field == "service"
        assert "Beratung, Nachberatung, Kontrolle" in error.reason

    @pytest.mark.parametrize("language", list(CATALOG))
    @pytest.mark.parametrize("reason_and_spoken", [("unknown", "Massage"), ("missing", None)])
    def test_every_language_names_the_services_on_offer(
        self, language: str, reason_and_spoken: tuple[str, str | None]
    ) -> None:
        reason, spoken = reason_and_spoken
        refusal = _refused(PRAXIS, spoken)

        message = refusal.message("de" if language == "de" else "en", PRAXIS.zone)

        assert refusal.reason == reason
        assert f"invalid.service.{reason}" in CATALOG[language]  # type: ignore[index]
        for name in ("Beratung", "Nachberatung", "Kontrolle"):
            assert name in message

    def test_german_names_the_services_as_alternatives(self) -> None:
        message = _refused(PRAXIS, "Massage").message("de", PRAXIS.zone)

        assert message == (
            "Das kann ich leider nicht buchen. Ich kann Beratung, Nachberatung oder Kontrolle "
            "buchen. Was möchten Sie?"
        )

    def test_english_asks_which_of_the_close_ones(self) -> None:
        message = _refused(SALON, "Haarschnitt").message("en", SALON.zone)

        assert message == "Which do you mean: Haarschnitt Damen or Haarschnitt Herren?"


class TestOneService:
    """A business with one service needs no service named."""

    def test_no_service_is_the_only_service(self) -> None:
        only = Business(
            id="solo",
            name="Solo",
            services=(BERATUNG,),
            calcom_api_key_env="K",
            agent_ids=("a",),
        )

        assert only.service(None) == ServiceMatch(BERATUNG, "only")
        assert _refused(only, "Massage").reason == "unknown"

    def test_without_a_file_whatever_the_caller_names_is_the_configured_event_type(
        self,
    ) -> None:
        (default,) = Businesses.from_settings(Settings(CALCOM_EVENT_TYPE_ID=42))

        for spoken in (None, "Massage", "a haircut"):
            assert _chosen(default, spoken).event_type_id == 42


def test_a_business_without_services_refuses_every_service() -> None:
    """The environment's business before ``CALCOM_EVENT_TYPE_ID`` is set offers nothing."""
    (default,) = Businesses.from_settings(Settings(CALCOM_EVENT_TYPE_ID=None))

    for spoken in (None, "Beratung"):
        refusal = _refused(default, spoken)
        assert refusal.offered == ()
        assert refusal.message("en", default.zone) == CATALOG["en"]["invalid"]
