"""``identity``: what the call vouches for, clean text, references and lenient names."""

from __future__ import annotations

import pytest

from retell_booking_tools.booking.identity import (
    clean_text,
    names_match,
    network_phone,
    new_booking_reference,
    parse_booking_reference,
    spoken_reference,
    trusted_identity,
)
from retell_booking_tools.errors import InvalidArguments


class TestTrustedIdentity:
    """The backend's identity fields, else the network number; never anything else."""

    def test_the_network_number_is_the_identity_of_a_plain_call(self) -> None:
        identity = trusted_identity(
            number="+4915112345678", metadata=None, dynamic_variables=None, region="DE"
        )

        assert identity is not None
        assert identity.key == "phone:+4915112345678"
        assert identity.source == "network"

    def test_the_backends_customer_id_wins_over_the_number(self) -> None:
        identity = trusted_identity(
            number="+4915112345678",
            metadata={"booking_customer_id": "user-7", "booking_customer_email": "A@B.de"},
            dynamic_variables=None,
            region="DE",
        )

        assert identity is not None
        assert (identity.key, identity.email, identity.source) == (
            "id:user-7",
            "a@b.de",
            "metadata",
        )

    @pytest.mark.parametrize("number", [None, "", "anonymous", "Restricted", "12", "not a number"])
    def test_a_call_without_a_usable_number_or_fields_has_no_identity(
        self, number: str | None
    ) -> None:
        identity = trusted_identity(
            number=number, metadata={"customer": "x"}, dynamic_variables={}, region="DE"
        )

        assert identity is None

    def test_a_malformed_identity_email_is_absent_not_a_fallback(self) -> None:
        identity = trusted_identity(
            number=None,
            metadata=None,
            dynamic_variables={"booking_customer_email": "not-an-email"},
            region="DE",
        )

        assert identity is None


def test_a_possible_number_outside_the_validity_tables_is_accepted_from_the_network() -> None:
    assert network_phone("+49 153 12345678", region="DE") == "+4915312345678"


class TestCleanText:
    """NFC out; bidi, zero-width outside joining scripts, separators and NUL refused."""

    @pytest.mark.parametrize(
        "text", ["a\u202eb", "a\u2067b", "a\u200bb", "Max\u200dMuster", "a\u2028b", "a\x00b"]
    )
    def test_invisible_characters_are_refused(self, text: str) -> None:
        with pytest.raises(InvalidArguments):
            clean_text(text, field="customer_name")

    @pytest.mark.parametrize(
        "char",
        [
            *("\u3164", "\u115f", "\u1160", "\uffa0", "\u2800", "\u034f", "\ufe00", "\ufe0f"),
            *("\U000e0100", "\U000e01ef", "\U000e0041", "\u180b", "\u17b4", "\u00ad"),
        ],
    )
    def test_default_ignorable_characters_and_blank_symbols_are_refused(self, char: str) -> None:
        for text in (char, f"Max{char}Mustermann", f"Max Mustermann{char}"):
            with pytest.raises(InvalidArguments):
                clean_text(text, field="customer_name")

    def test_a_zero_width_joiner_inside_a_devanagari_word_is_kept(self) -> None:
        word = "\u0915\u094d\u200d\u0937"

        assert clean_text(word, field="customer_name") == word

    def test_text_of_only_invisible_characters_is_refused(self) -> None:
        with pytest.raises(InvalidArguments):
            clean_text("\u200c", field="customer_name")

    def test_line_breaks_are_kept_only_where_text_may_span_lines(self) -> None:
        assert clean_text("one\ntwo", field="notes", multiline=True) == "one\ntwo"
        with pytest.raises(InvalidArguments):
            clean_text("one\ntwo", field="customer_name")


class TestReferences:
    """Six characters of the unambiguous alphabet, read in two groups, parsed leniently."""

    def test_a_new_reference_round_trips_through_speech(self) -> None:
        reference = new_booking_reference()

        spoken = spoken_reference(reference)

        assert parse_booking_reference(spoken) == reference
        assert spoken.count(",") == 1

    @pytest.mark.parametrize("said", ["k7f 2qx", "K-7-F-2-Q-X", " K7F.2QX "])
    def test_separators_and_case_do_not_matter(self, said: str) -> None:
        assert parse_booking_reference(said) == "K7F2QX"

    @pytest.mark.parametrize("said", ["K7F2Q", "K7F2QXX", "K0F2QX", "K1F2QX", "K7F2Q\u00df"])
    def test_anything_else_is_no_reference(self, said: str) -> None:
        assert parse_booking_reference(said) is None


class TestNames:
    """The whole name or the surname; case, accents and German transliteration aside."""

    @pytest.mark.parametrize("said", ["Jörg Müller", "joerg mueller", "MULLER", "Müller Jörg"])
    def test_lenient_matches(self, said: str) -> None:
        assert names_match(said, "Jörg Müller")

    @pytest.mark.parametrize(
        "said",
        ["Jörg", "Müllerin", "", "Erika Musterfrau", "Dr. Müller", "Müller Müller", "Jörg Jörg"],
    )
    def test_other_names_do_not_match(self, said: str) -> None:
        assert not names_match(said, "Jörg Müller")

    @pytest.mark.parametrize("said", ["Anna Maria Schmidt", "Maria Schmidt", "Anna Schmidt"])
    def test_one_given_name_may_be_left_out(self, said: str) -> None:
        assert names_match(said, "Anna Maria Schmidt")

    @pytest.mark.parametrize("said", ["Anna Maria", "Anna", "Anna Maria Schmidt Weber"])
    def test_the_surname_is_needed_and_nothing_may_be_added(self, said: str) -> None:
        assert not names_match(said, "Anna Maria Schmidt")

    def test_a_list_of_surnames_does_not_match(self) -> None:
        assert not names_match("Smith Jones Müller Schmidt Mustermann Koch", "Max Mustermann")
