"""Several businesses in one deployment: the businesses file, which business a call belongs
to, and which of its services a caller means.

Without a businesses file the single-business settings are the one business ``default``,
so the rest of the code can always ask :class:`Businesses`.
"""

from retell_booking_tools.businesses.file import load_businesses, parse_businesses
from retell_booking_tools.businesses.model import (
    Business,
    Businesses,
    Service,
    require_businesses,
)
from retell_booking_tools.businesses.served import ServedBusiness, ServedBusinesses
from retell_booking_tools.businesses.services import (
    AMBIGUITY_MARGIN,
    SCORE_CUTOFF,
    ServiceChoice,
    ServiceMatch,
    ServiceRefusal,
    match_service,
)
from retell_booking_tools.domain import DEFAULT_BUSINESS_ID

__all__ = [
    "AMBIGUITY_MARGIN",
    "DEFAULT_BUSINESS_ID",
    "SCORE_CUTOFF",
    "Business",
    "Businesses",
    "ServedBusiness",
    "ServedBusinesses",
    "Service",
    "ServiceChoice",
    "ServiceMatch",
    "ServiceRefusal",
    "load_businesses",
    "match_service",
    "parse_businesses",
    "require_businesses",
]
