"""The businesses of the two-business file."""

from __future__ import annotations

from pathlib import Path

import pytest
from two_businesses import ANA_KEY, SPITZER_KEY, TWO_BUSINESSES

from retell_booking_tools.businesses import Businesses, parse_businesses


@pytest.fixture(name="businesses")
def fixture_businesses() -> Businesses:
    return parse_businesses(TWO_BUSINESSES, source=Path("businesses.toml"))


@pytest.fixture(name="businesses_file")
def fixture_businesses_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The two-business file, its key variables set."""
    path = tmp_path / "businesses.toml"
    path.write_text(TWO_BUSINESSES, encoding="utf-8")
    monkeypatch.setenv("CALCOM_API_KEY_SPITZER", SPITZER_KEY)
    monkeypatch.setenv("CALCOM_API_KEY_ANA", ANA_KEY)
    return path
