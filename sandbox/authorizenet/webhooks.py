"""Webhook notifications: one signed JSON POST per event, delivered off the request thread.

``state.webhooks.configure(url, signature_key)`` turns delivery on; events queue after
transactions and a daemon thread posts them (``auto=False`` leaves them queued), while
``state.flush_webhooks()`` delivers whatever is pending in the caller's thread after any
in-progress delivery, so tests are deterministic. Failures are logged and kept in
``deliveries``; they never reach the API caller.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests

from sandbox.delivery import BackgroundDelivery

from .wire import format_utc

logger = logging.getLogger(__name__)

AUTHCAPTURE = "net.authorize.payment.authcapture.created"
AUTHORIZATION = "net.authorize.payment.authorization.created"
CAPTURE = "net.authorize.payment.capture.created"
REFUND = "net.authorize.payment.refund.created"
VOID = "net.authorize.payment.void.created"
FRAUD_HELD = "net.authorize.payment.fraud.held"


def sign(body: bytes, signature_key: str) -> str:
    """The X-ANET-Signature value: sha512=<UPPERCASE hex HMAC-SHA512(key, raw body)>."""
    digest = hmac.new(signature_key.encode("utf-8"), body, hashlib.sha512).hexdigest()
    return "sha512=" + digest.upper()


def verify(body: bytes, header: str, signature_key: str) -> bool:
    """Constant-time check of an X-ANET-Signature header (case-insensitive hex)."""
    return hmac.compare_digest(sign(body, signature_key).lower(), header.strip().lower())


@dataclass
class Delivery:
    """One POST attempt and how it went."""

    url: str
    body: bytes
    signature: str
    event_type: str
    status: int | None = None
    error: str | None = None


def _number(value: Decimal) -> Any:
    """Amounts as JSON numbers (45.0 style, like the gateway)."""
    return float(value)


class WebhookDispatcher(BackgroundDelivery[dict[str, Any]]):
    """Queues events and POSTs each, signed, to the configured endpoint."""

    thread_name = "anet-webhooks"

    def __init__(self, timeout: float = 2.0) -> None:
        super().__init__(timeout)
        self.url: str | None = None
        self.signature_key: str | None = None
        self.webhook_id = str(uuid.uuid4())
        self.deliveries: list[Delivery] = []

    def configure(self, url: str | None, signature_key: str | None, auto: bool = True) -> None:
        """Set (or with url=None clear) the endpoint and the signature key."""
        with self._cond:
            self.url, self.signature_key, self.auto_deliver = url, signature_key, auto
            self.webhook_id = str(uuid.uuid4())
            self._pending.clear()

    def enqueue(self, event_type: str, when: datetime, payload: dict[str, Any]) -> None:
        """Queue one notification when an endpoint is configured."""
        if not self.url:
            return
        body = {
            "notificationId": str(uuid.uuid4()),
            "eventType": event_type,
            "eventDate": format_utc(when),
            "webhookId": self.webhook_id,
            "payload": {k: _number(v) if isinstance(v, Decimal) else v for k, v in payload.items()},
        }
        self._push([body])

    def _deliver_batch(self, batch: list[dict[str, Any]]) -> list[Delivery]:
        return [self._deliver(event) for event in batch]

    def _deliver(self, event: dict[str, Any]) -> Delivery:
        """POST one signed notification; record and log the outcome."""
        body = json.dumps(event, separators=(",", ":")).encode("utf-8")
        signature = sign(body, self.signature_key or "")
        delivery = Delivery(self.url or "", body, signature, event["eventType"])
        try:
            response = requests.post(
                delivery.url,
                data=body,
                headers={"Content-Type": "application/json", "X-ANET-Signature": signature},
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
