"""The businesses a running deployment serves: each with its own booking core (its Cal.com
account, policy and view of the store), and which one a call or a Cal.com webhook is for."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import attrs

from retell_booking_tools.businesses.model import Business, Businesses

if TYPE_CHECKING:
    from retell_booking_tools.booking.core import BookingCore
    from retell_booking_tools.repository.protocol import Repository
    from retell_booking_tools.retell.models import RetellCall


@attrs.frozen(repr=False)
class ServedBusiness:
    """One business at work: its core books with its key, and ``store`` is its view of the
    store (its customers, appointments, calls and tool calls only)."""

    business: Business
    core: BookingCore
    store: Repository

    def __repr__(self) -> str:
        return f"ServedBusiness({self.business.id!r})"

    @property
    def id(self) -> str:
        return self.business.id


@attrs.frozen
class ServedBusinesses:
    """Every served business, in file order (the first is the single-business
    configuration's ``default`` when there is no businesses file)."""

    businesses: Businesses
    served: tuple[ServedBusiness, ...]

    def __attrs_post_init__(self) -> None:
        if not self.served:
            raise ValueError("a deployment serves at least one business")

    def __iter__(self) -> Iterator[ServedBusiness]:
        return iter(self.served)

    def __len__(self) -> int:
        return len(self.served)

    @property
    def first(self) -> ServedBusiness:
        return self.served[0]

    def get(self, business_id: str) -> ServedBusiness | None:
        return next((s for s in self.served if s.id == business_id), None)

    def for_call(self, call: RetellCall) -> ServedBusiness | None:
        """The business the call belongs to (:meth:`Businesses.for_retell_call`), or None."""
        business = self.businesses.for_retell_call(call)
        return None if business is None else self.get(business.id)

    def for_event_type(self, event_type_id: int | None) -> ServedBusiness | None:
        """The first business one of whose services books this event type; without a
        businesses file, the one business (whatever event type a call chose)."""
        if self.businesses.source is None and len(self.served) == 1:
            return self.first
        if event_type_id is None:
            return None
        return next(
            (s for s in self.served if s.business.service_for_event_type(event_type_id)), None
        )

    async def for_booking(
        self, event_type_id: int | None, uids: Iterable[str | None]
    ) -> ServedBusiness | None:
        """The business a Cal.com booking event is for: by its event type, else the
        business whose store holds one of ``uids`` (the booking, or the one it replaced);
        None when no business knows it."""
        found = self.for_event_type(event_type_id)
        if found is not None:
            return found
        wanted = [uid for uid in uids if uid]
        for served in self.served:
            for uid in wanted:
                if await served.store.get_appointment_by_uid(uid) is not None:
                    return served
        return None
