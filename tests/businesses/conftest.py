"""The businesses of the two-business file."""

from __future__ import annotations

from pathlib import Path

import pytest
from two_businesses import TWO_BUSINESSES

from retell_booking_tools.businesses import Businesses, parse_businesses


@pytest.fixture(name="businesses")
def fixture_businesses() -> Businesses:
    return parse_businesses(TWO_BUSINESSES, source=Path("businesses.toml"))
