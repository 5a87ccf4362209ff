"""Cassette hygiene shared by every recorded-HTTP test (Cal.com, Retell).

JSON bodies are stored as YAML structures so a diff reads like the API; credentials and
cookies never reach a cassette; a loopback server's random port is kept out of it.
"""

from __future__ import annotations

import abc
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import vcr
import yaml
from vcr.request import Request as VcrRequest


class ReadableYamlSerializer:
    """Stores JSON bodies as YAML structures (``parsed_body``) instead of one long string."""

    @staticmethod
    def serialize(cassette: dict[str, Any]) -> str:
        data = copy.deepcopy(cassette)
        for interaction in data["interactions"]:
            request, response = interaction["request"], interaction["response"]
            parsed = _json_or_none(request.get("body"))
            if parsed is not None:
                request["parsed_body"] = parsed
                del request["body"]
            parsed = _json_or_none(response["body"].get("string"))
            if parsed is not None:
                response["parsed_body"] = parsed
                del response["body"]
        return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(text)
        for interaction in data["interactions"]:
            request, response = interaction["request"], interaction["response"]
            if "parsed_body" in request:
                request["body"] = _compact_json(request.pop("parsed_body"))
            if "parsed_body" in response:
                response["body"] = {"string": _compact_json(response.pop("parsed_body"))}
            body = response["body"]["string"] or ""
            for name in response.get("headers", {}):
                if name.lower() == "content-length":
                    response["headers"][name] = [str(len(body.encode()))]
        return data


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _json_or_none(body: Any) -> Any:
    if not body or not isinstance(body, str | bytes):
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


def _compact_json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False)


SECRET_HEADERS = ("authorization", "cookie", "set-cookie")
NOISY_REQUEST_HEADERS = ("host", "connection", "accept-encoding", "content-length")


def without_secret_headers(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    response["headers"] = {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}
    return response


def without_loopback_port(request: VcrRequest) -> VcrRequest:
    """The emulator listens on a random port; keep it out of the cassette's diff."""
    parts = urlsplit(request.uri)
    if parts.hostname in {"127.0.0.1", "localhost"} and parts.port is not None:
        request.uri = urlunsplit(parts._replace(netloc=parts.hostname))
    return request


def scrubbed_vcr(
    library: Path,
    *,
    scrub_request: Callable[[VcrRequest], VcrRequest],
    scrub_response: Callable[[dict[str, Any]], dict[str, Any]],
    record: bool,
) -> vcr.VCR:
    """Readable cassettes without secrets or loopback ports, replay-only unless recording."""
    recorder = vcr.VCR(
        cassette_library_dir=str(library),
        serializer="readable_yaml",
        record_mode="all" if record else "none",
        match_on=["method", "path", "query"],
        filter_headers=[*SECRET_HEADERS, *NOISY_REQUEST_HEADERS],
        before_record_request=[scrub_request, without_loopback_port],
        before_record_response=[without_secret_headers, scrub_response],
        decode_compressed_response=True,
    )
    recorder.register_serializer("readable_yaml", ReadableYamlSerializer)
    return recorder


class JsonBodyScrubber(abc.ABC):
    """Scrubs one recorded exchange: the request's URI and headers, and both JSON bodies.

    Subclasses say what to replace in a decoded JSON document (and, if needed, in the URI
    and request headers); bodies that are not JSON are kept as they are.
    """

    def request(self, request: VcrRequest) -> VcrRequest:
        scrubbed: VcrRequest = copy.deepcopy(request)
        scrubbed.uri = self.scrub_uri(scrubbed.uri)
        self.scrub_request_headers(scrubbed.headers)
        if scrubbed.body:
            body = self._scrubbed_json(scrubbed.body)
            if body is not None:
                scrubbed.body = body
        return scrubbed

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        scrubbed = copy.deepcopy(response)
        raw = scrubbed.get("body", {}).get("string")
        if raw:
            body = self._scrubbed_json(raw if isinstance(raw, bytes) else raw.encode())
            if body is not None:
                scrubbed["body"]["string"] = body
                for name in scrubbed.get("headers", {}):
                    if name.lower() == "content-length":
                        scrubbed["headers"][name] = [str(len(body))]
        return scrubbed

    def scrub_uri(self, uri: str) -> str:
        return uri

    def scrub_request_headers(self, headers: dict[str, Any]) -> None:
        """Remove or replace request headers in place; keeps them all by default."""
        return None

    @abc.abstractmethod
    def scrub_document(self, document: Any) -> Any:
        """The decoded JSON body with credentials and personal data replaced."""

    def _scrubbed_json(self, raw: bytes) -> bytes | None:
        try:
            document = json.loads(raw)
        except ValueError:
            return None
        return json.dumps(self.scrub_document(document), ensure_ascii=False).encode()
