"""Webhook notifications: signed eventNotifications POSTs, delivered off the request thread.

Configure with ``state.webhooks.configure(url, verifier_token)``. Events queue after every
write; a daemon thread delivers them (when ``auto_deliver`` is on), and
``state.flush_webhooks()`` delivers whatever is pending in the caller's thread and waits
for an in-progress delivery, so tests are deterministic. Failures are logged and recorded
in ``deliveries``; they never reach the API caller.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import requests

from sandbox.delivery import BackgroundDelivery

from .util import dumps

logger = logging.getLogger(__name__)


def sign_payload(body: bytes, verifier_token: str) -> str:
    """The intuit-signature header: base64(HMAC-SHA256(verifier token, raw body))."""
    digest = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, signature: str, verifier_token: str) -> bool:
    """Constant-time check of an intuit-signature header."""
    return hmac.compare_digest(sign_payload(body, verifier_token), signature)


@dataclass
class Delivery:
    """One POST attempt and how it went."""

    url: str
    body: bytes
    signature: str
    status: int | None = None
    error: str | None = None


def build_payload(events: list[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    """Group (realmId, entity event) pairs into one eventNotifications document."""
    by_realm: dict[str, list[dict[str, str]]] = {}
    for realm_id, event in events:
        by_realm.setdefault(realm_id, []).append(event)
    return {
        "eventNotifications": [
            {"realmId": realm_id, "dataChangeEvent": {"entities": entities}}
            for realm_id, entities in by_realm.items()
        ]
    }


class WebhookDispatcher(BackgroundDelivery[tuple[str, dict[str, str]]]):
    """Queues change events and POSTs them, one notification per batch, to the endpoint."""

    thread_name = "qbo-webhooks"

    def __init__(self, timeout: float = 2.0) -> None:
        super().__init__(timeout)
        self.url: str | None = None
        self.verifier_token: str | None = None
        self.deliveries: list[Delivery] = []

    def configure(self, url: str | None, verifier_token: str | None, auto: bool = True) -> None:
        """Set (or with url=None clear) the endpoint and verifier token."""
        with self._cond:
            self.url, self.verifier_token, self.auto_deliver = url, verifier_token, auto
            self._pending.clear()

    def enqueue(self, realm_id: str, events: list[dict[str, str]]) -> None:
        """Queue events for delivery when an endpoint is configured."""
        if not events or not self.url:
            return
        self._push([(realm_id, dict(event)) for event in events])

    def _deliver_batch(self, batch: list[tuple[str, dict[str, str]]]) -> list[Delivery]:
        return [self._deliver(batch)]

    def _deliver(self, batch: list[tuple[str, dict[str, str]]]) -> Delivery:
        """POST one signed notification; record and log the outcome."""
        body = dumps(build_payload(batch)).encode("utf-8")
        delivery = Delivery(self.url or "", body, sign_payload(body, self.verifier_token or ""))
        try:
            response = requests.post(
                delivery.url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "intuit-signature": delivery.signature,
                },
                timeout=self.timeout,
            )
            delivery.status = response.status_code
            if response.status_code >= 300:
                logger.warning("webhook %s answered %s", delivery.url, response.status_code)
        except requests.RequestException as exc:
            delivery.error = str(exc)
            logger.warning("webhook delivery to %s failed: %s", delivery.url, exc)
        self.deliveries.append(delivery)
        return delivery
