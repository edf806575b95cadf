"""QuickBooks webhook notifications: the intuit-signature check and the companies named.

The body is only a trigger: what changed is read back through CDC, never taken from it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class BadNotification(ValueError):
    """The body is not a notification we can read."""


def signature_valid(body: bytes, signature: str, verifier_token: str) -> bool:
    """Whether intuit-signature is base64(HMAC-SHA256(verifier, body)); constant-time."""
    expected = base64.b64encode(
        hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def realms_in(payload: Any) -> set[str]:
    """Company ids named by a notification (classic or CloudEvents form)."""
    realms: set[str] = set()
    if isinstance(payload, dict):
        for event in payload.get("eventNotifications") or []:
            if isinstance(event, dict) and isinstance(event.get("realmId"), str):
                realms.add(event["realmId"])
    elif isinstance(payload, list):
        for event in payload:
            if isinstance(event, dict) and isinstance(event.get("intuitaccountid"), str):
                realms.add(event["intuitaccountid"])
    return {r for r in realms if 0 < len(r) <= 32}


def realms_notified(body: bytes) -> set[str]:
    """The companies a (signature-checked) body names; BadNotification if it is not JSON."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise BadNotification("body is not JSON") from None
    return realms_in(payload)
