"""Recorded retell-sdk HTTP (``tests/cassettes/retell``): where it comes from and how it is kept
clean.

Cassettes are recorded by running the sync cassette tests with ``RETELL_BOOKING_RECORD=1``
(see ``tests/retell/record_cassettes.py``): against the Retell API emulator of this package
served over HTTP on loopback by default, or against a real account when ``RETELL_API_KEY``
(and ``RETELL_LLM_ID``, a scratch LLM) are set. Before anything is written, the API key
and cookies are dropped, any echo of the key is replaced, the values of other tools'
``headers`` (they may hold someone's credentials) and prompt texts are replaced, and any
e-mail address or phone number is replaced by a placeholder.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import vcr
from cassette_hygiene import (
    JsonBodyScrubber,
    scrubbed_vcr,
)

CASSETTES = Path(
    os.environ.get("RETELL_BOOKING_CASSETTE_DIR")
    or Path(__file__).resolve().parent / "cassettes" / "retell"
)
"""The committed cassettes; the record script points this at a scratch directory."""
COMMITTED = Path(__file__).resolve().parent / "cassettes" / "retell"
RECORDING_FILE = CASSETTES / "recording.json"

RECORDING = os.environ.get("RETELL_BOOKING_RECORD") == "1"
RECORDING_REAL_RETELL = RECORDING and bool(os.environ.get("RETELL_API_KEY"))

REPLAY_API_KEY = "key_replay_only_0000"
EMULATOR_API_KEY = "key_emulator_0000"
EMULATOR_LLM_ID = "llm_cassettes_emulated"
SCRUBBED = "<scrubbed>"
PROMPT_PLACEHOLDER = "(prompt not recorded)"
PROMPT_FIELDS = frozenset({"general_prompt", "begin_message", "state_prompt"})

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+\d[\d ()./-]{5,}\d")
RETELL_KEY = re.compile(r"\bkey_[A-Za-z0-9]{8,}\b")


class RetellScrubber(JsonBodyScrubber):
    """Removes credentials and personal data from retell-sdk requests and Retell's answers."""

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = [secret for secret in secrets if secret]

    def scrub_uri(self, uri: str) -> str:
        return self.text(uri)

    def scrub_request_headers(self, headers: dict[str, Any]) -> None:
        for name in list(headers):
            if name.lower().startswith("x-stainless-"):
                del headers[name]

    def scrub_document(self, document: Any) -> Any:
        return self._replace(document)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, SCRUBBED)
        value = RETELL_KEY.sub(SCRUBBED, value)
        value = EMAIL.sub("someone@example.com", value)
        return PHONE.sub("+15550100000", value)

    def _replace(self, node: Any, key: str | None = None) -> Any:
        if isinstance(node, dict):
            if key == "headers":
                return {name: SCRUBBED for name in node}
            return {name: self._replace(value, name) for name, value in node.items()}
        if isinstance(node, list):
            return [self._replace(item) for item in node]
        if isinstance(node, str):
            return PROMPT_PLACEHOLDER if key in PROMPT_FIELDS else self.text(node)
        return node


def retell_vcr(
    *, record: bool = RECORDING, secrets: list[str] | None = None, library: Path = CASSETTES
) -> vcr.VCR:
    """The one vcrpy configuration for Retell cassettes, replay-only unless recording."""
    scrubber = RetellScrubber(secrets or [])
    return scrubbed_vcr(
        library, scrub_request=scrubber.request, scrub_response=scrubber.response, record=record
    )


@attrs.frozen
class RetellRecording:
    """What the cassettes were recorded against, and the inputs replay needs."""

    recorded_against: str
    recorded_on: str
    package_version: str
    retell_sdk_version: str
    api_url: str
    llm_id: str

    def save(self) -> None:
        CASSETTES.mkdir(parents=True, exist_ok=True)
        RECORDING_FILE.write_text(json.dumps(attrs.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path = CASSETTES) -> RetellRecording:
        return cls(**json.loads((directory / "recording.json").read_text()))

    @classmethod
    def now(cls, *, recorded_against: str, api_url: str, llm_id: str) -> RetellRecording:
        return cls(
            recorded_against=recorded_against,
            recorded_on=date.today().isoformat(),
            package_version=_version("retell-booking-tools"),
            retell_sdk_version=_version("retell-sdk"),
            api_url=api_url,
            llm_id=llm_id,
        )


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "0"
