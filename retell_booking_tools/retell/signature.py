"""Retell request signatures (``X-Retell-Signature: v=<ms>,d=<hex>``), via retell-sdk.

The HMAC covers the raw body as received, followed by the timestamp; signatures more
than five minutes away from now are refused, which stops replays.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime
from types import ModuleType
from typing import Any, cast

SIGNATURE_HEADER = "X-Retell-Signature"


def _load_sdk_webhook_auth() -> ModuleType:
    """retell-sdk's ``retell.lib.webhook_auth``, loaded without the whole SDK.

    ``import retell`` builds the full API client and costs seconds; the verifier module is
    self-contained, so it is loaded from the installed SDK's file on its own. If the SDK is
    already imported, its module is used as is.
    """
    if "retell.lib.webhook_auth" in sys.modules:
        return sys.modules["retell.lib.webhook_auth"]
    package = importlib.util.find_spec("retell")
    if package is None or not package.submodule_search_locations:
        raise ImportError("retell-sdk is not installed")
    location = f"{package.submodule_search_locations[0]}/lib/webhook_auth.py"
    spec = importlib.util.spec_from_file_location("_retell_sdk_webhook_auth", location)
    if spec is None or spec.loader is None:
        raise ImportError("retell-sdk has no lib/webhook_auth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SYMMETRIC = cast(dict[str, Any], _load_sdk_webhook_auth().symmetric)


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
    try:
        return bool(_SYMMETRIC["verify"](text, api_key, signature.strip(), options))
    except (ValueError, TypeError, OverflowError):
        return False  # a header the SDK cannot even parse (e.g. a 5,000-digit timestamp)


def sign(body: bytes | str, api_key: str, *, at: datetime | None = None) -> str:
    """A signature header value as Retell makes it (for tests, the demo and local tools)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return str(_SYMMETRIC["sign"](text, api_key, _millis(at)))
