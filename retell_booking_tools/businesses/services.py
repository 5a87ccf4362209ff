"""Which service of a business a caller means, from what speech-to-text made of it.

The rules, in order:

1. No ``service`` said: the business's only service, or ``missing`` when it has several.
2. Exact: the spoken text, or one of its words or runs of words, equals a service's name or
   alias once both are normalised (case-folded, umlauts spelt out, accents and punctuation
   dropped, whitespace collapsed, and also compared with the spaces removed, so "Nach
   Beratung" is "Nachberatung"). A name heard only inside a longer name heard exactly does
   not count ("Nach Beratung" is "Nachberatung", not "Beratung"); one service heard
   exactly wins, several are ``ambiguous``.
3. Fuzzy: the best Jaro-Winkler similarity (rapidfuzz) between the spoken text and each
   name or alias, compared whole (spaces removed) and word by word (each word of a name
   against its closest spoken word, averaged), so inflections and compounds ("Berater",
   "Beratungstermin") and misheard letters ("Bratung") still find their service while the
   extra words of a sentence do not count against it. Below :data:`SCORE_CUTOFF` the
   service is ``unknown``; a second service within :data:`AMBIGUITY_MARGIN` of the best
   makes it ``ambiguous``.

A business made from the environment (no businesses file) has one service that takes
whatever the caller calls it, as before businesses existed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

import attrs
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.utils import default_process

from retell_booking_tools.config import Language
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.messages import render

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from retell_booking_tools.businesses.model import Business, Service

SCORE_CUTOFF = 80.0
"""Least similarity (0 to 100) for a fuzzy match. Inflections, compounds and one or two
misheard letters of a name score above it ("Berater" 87 for "Beratung", "Beratungstermin"
91); unrelated words score below ("Termin" 62, "Massage" 51)."""
AMBIGUITY_MARGIN = 5.0
"""A fuzzy match is ambiguous when another service scores within this of the best: both
fit about as well, so the caller is asked which one."""
_MAX_WINDOW_WORDS = 4
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

Refusal = Literal["missing", "unknown", "ambiguous"]
How = Literal["only", "exact", "fuzzy"]


@attrs.frozen
class ServiceMatch:
    """The service the caller means; ``score`` is 100 for exact and only-service choices."""

    service: Service
    how: How
    score: float = 100.0


@attrs.frozen
class ServiceRefusal:
    """No one service fits: the tool answers ``invalid`` on field ``service``.

    ``offered`` are the services to name to the caller: the close candidates when
    ``ambiguous``, every service of the business otherwise.
    """

    reason: Refusal
    offered: tuple[Service, ...]
    spoken: str | None = None
    field: Literal["service"] = "service"

    @property
    def offered_names(self) -> tuple[str, ...]:
        return tuple(service.name for service in self.offered)

    def message(self, language: Language, zone: ZoneInfo) -> str:
        """What the agent says, naming the services on offer (``invalid.service.*``)."""
        if not self.offered:
            return render("invalid", language, zone=zone)
        return render(
            f"invalid.service.{self.reason}", language, zone=zone, services=self.offered_names
        )

    def error(self) -> InvalidArguments:
        """The same refusal as the exception the tools turn into ``invalid``."""
        reasons = {
            "missing": "no service named and several on offer",
            "unknown": "not a service on offer",
            "ambiguous": "fits several services",
        }
        offered = ", ".join(self.offered_names)
        return InvalidArguments("service", f"{reasons[self.reason]}: {offered}")


ServiceChoice = ServiceMatch | ServiceRefusal


def match_service(business: Business, spoken: str | None) -> ServiceChoice:
    """The service of ``business`` that ``spoken`` names, or why none can be chosen."""
    services = business.services
    text = (spoken or "").strip()
    if not services:
        return ServiceRefusal("unknown", (), text or None)
    if business.implicit and len(services) == 1:
        return ServiceMatch(services[0], "only")
    if not text:
        if len(services) == 1:
            return ServiceMatch(services[0], "only")
        return ServiceRefusal("missing", services)
    heard = _Heard.of(text)
    exact = _widest({service: heard.exact_terms(_terms(service)) for service in services}, services)
    if len(exact) == 1:
        return ServiceMatch(exact[0], "exact")
    if exact:
        return ServiceRefusal("ambiguous", tuple(exact), text)
    scored = sorted(
        ((heard.similarity(_terms(service)), index) for index, service in enumerate(services)),
        key=lambda pair: (-pair[0], pair[1]),
    )
    best, best_index = scored[0]
    if best < SCORE_CUTOFF:
        return ServiceRefusal("unknown", services, text)
    close = [
        services[i]
        for score, i in sorted(scored, key=lambda pair: pair[1])
        if best - score <= AMBIGUITY_MARGIN
    ]
    if len(close) > 1:
        return ServiceRefusal("ambiguous", tuple(close), text)
    return ServiceMatch(services[best_index], "fuzzy", best)


def normalize(text: str) -> str:
    """Case-folded, umlauts spelt out, accents and punctuation dropped, spaces collapsed.

    Two names that normalise alike cannot both stand in one business's services.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_UMLAUTS)
    stripped = "".join(
        char for char in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(char)
    )
    return " ".join(default_process(stripped).split())


def _terms(service: Service) -> tuple[str, ...]:
    return tuple(normalize(term) for term in (service.name, *service.aliases) if normalize(term))


@attrs.frozen
class _Heard:
    """The spoken text, normalised, with its words and runs of words."""

    whole: str
    words: tuple[str, ...]
    runs: frozenset[str]

    @classmethod
    def of(cls, text: str) -> _Heard:
        whole = normalize(text)
        words = tuple(whole.split())
        runs = {whole, _joined(whole)}
        for size in range(1, min(_MAX_WINDOW_WORDS, len(words)) + 1):
            for start in range(len(words) - size + 1):
                run = " ".join(words[start : start + size])
                runs.update((run, _joined(run)))
        return cls(whole, words, frozenset(runs))

    def exact_terms(self, terms: Iterable[str]) -> tuple[str, ...]:
        """The terms heard exactly, spaces removed."""
        return tuple(
            _joined(term) for term in terms if term in self.runs or _joined(term) in self.runs
        )

    def similarity(self, terms: Sequence[str]) -> float:
        return max((self._similarity(term) for term in terms), default=0.0)

    def _similarity(self, term: str) -> float:
        whole = _similar(_joined(self.whole), _joined(term))
        if not self.words:
            return whole
        term_words = term.split()
        by_word = sum(max(_similar(word, heard) for heard in self.words) for word in term_words)
        return max(whole, by_word / len(term_words))


def _widest(heard: dict[Service, tuple[str, ...]], services: Sequence[Service]) -> list[Service]:
    """The services heard exactly, less those heard only inside another one's longer name."""

    def shadowed(service: Service) -> bool:
        wider = [term for other, terms in heard.items() if other is not service for term in terms]
        return all(
            any(mine in term and len(term) > len(mine) for term in wider) for mine in heard[service]
        )

    return [service for service in services if heard[service] and not shadowed(service)]


def _joined(text: str) -> str:
    return text.replace(" ", "")


def _similar(left: str, right: str) -> float:
    return float(JaroWinkler.normalized_similarity(left, right) * 100)
