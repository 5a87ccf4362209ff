"""Retell request signatures (``X-Retell-Signature: v=<ms>,d=<hex>``), via retell-sdk.

The HMAC covers the raw body as received, followed by the timestamp; signatures more
than five minutes away from now are refused, which stops replays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from retell.lib import webhook_auth

SIGNATURE_HEADER = "X-Retell-Signature"
_SYMMETRIC = cast(dict[str, Any], webhook_auth.symmetric)


def _millis(instant: datetime | None) -> int | None:
    return None if instant is None else int(instant.timestamp() * 1000)


def verify_signature(
    body: bytes, signature: str | None, api_key: str, *, now: datetime | None = None
) -> bool:
    """True only for a fresh signature of exactly these bytes with this key."""
    if not signature or not api_key:
        return False
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    options = {"timestamp": _millis(now)} if now is not None else {}
    return bool(_SYMMETRIC["verify"](text, api_key, signature.strip(), options))


def sign(body: bytes | str, api_key: str, *, at: datetime | None = None) -> str:
    """A signature header value as Retell makes it (for tests, the demo and local tools)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return str(_SYMMETRIC["sign"](text, api_key, _millis(at)))
