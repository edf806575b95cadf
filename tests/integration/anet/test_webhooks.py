"""Webhooks: signed JSON notifications after transactions, delivered in the background."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sandbox.authorizenet import AnetSandbox, verify
from tests.integration.anet.conftest import Gateway, card, refund_card

SIGNATURE_KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90" * 4


class Receiver:
    """A tiny HTTP endpoint recording what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, dict(self.headers)))
                self.send_response(200)
                self.end_headers()
                receiver.arrived.set()

            def log_message(self, *args: Any) -> None:
                """Keep the test output quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/anet/webhook"
        self.thread = threading.Thread(
            target=lambda: self.server.serve_forever(poll_interval=0.05), daemon=True
        )

    def events(self) -> list[dict[str, Any]]:
        """The decoded bodies."""
        return [json.loads(body) for body, _ in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running webhook endpoint."""
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_charge_posts_a_signed_authcapture_notification(
    gateway: Gateway, sandbox: AnetSandbox, receiver: Receiver
) -> None:
    sandbox.state.webhooks.configure(receiver.url, SIGNATURE_KEY, auto=False)
    charged = gateway.charge("31.00", card(), invoice="INV-HOOK")
    [delivery] = sandbox.state.flush_webhooks()
    assert delivery.status == 200
    body, headers = receiver.received[0]
    expected = hmac.new(SIGNATURE_KEY.encode(), body, hashlib.sha512).hexdigest().upper()
    assert headers["X-ANET-Signature"] == f"sha512={expected}"
    assert verify(body, headers["X-ANET-Signature"], SIGNATURE_KEY)
    event = json.loads(body)
    assert event["eventType"] == "net.authorize.payment.authcapture.created"
    assert event["webhookId"] and event["notificationId"]
    assert event["eventDate"].endswith("Z")
    assert event["payload"] == event["payload"] | {
        "responseCode": 1,
        "authAmount": 31.0,
        "invoiceNumber": "INV-HOOK",
        "entityName": "transaction",
        "id": charged.transactionResponse.transId.text,
    }


def test_refund_void_and_fraud_hold_have_their_own_event_types(
    gateway: Gateway, sandbox: AnetSandbox, receiver: Receiver
) -> None:
    sandbox.state.webhooks.configure(receiver.url, SIGNATURE_KEY, auto=False)
    first = gateway.charge("32.00", card(), invoice="INV-H1").transactionResponse.transId.text
    gateway.charge(None, kind="voidTransaction", ref_trans_id=first)
    sandbox.state.faults.hold_for_review_next()
    gateway.charge("33.00", card(), invoice="INV-H2")
    second = gateway.charge("34.00", card(), invoice="INV-H3").transactionResponse.transId.text
    sandbox.state.settle()
    gateway.charge("34.00", refund_card(), kind="refundTransaction", ref_trans_id=second)
    sandbox.state.flush_webhooks()
    types = [event["eventType"].rsplit(".", 2)[-2] for event in receiver.events()]
    assert types == ["authcapture", "void", "fraud", "authcapture", "refund"]


def test_background_delivery_posts_without_a_flush(
    gateway: Gateway, sandbox: AnetSandbox, receiver: Receiver
) -> None:
    sandbox.state.webhooks.configure(receiver.url, SIGNATURE_KEY)
    gateway.charge("35.00", card(), invoice="INV-BG")
    assert receiver.arrived.wait(5)
    assert receiver.events()[0]["payload"]["invoiceNumber"] == "INV-BG"


def test_a_failed_delivery_is_logged_and_never_reaches_the_api_caller(
    gateway: Gateway, sandbox: AnetSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.state.webhooks.configure("http://127.0.0.1:9/nowhere", SIGNATURE_KEY, auto=False)
    assert gateway.charge("36.00", card(), invoice="INV-DEAD").messages.resultCode.text == "Ok"
    [delivery] = sandbox.state.flush_webhooks()
    assert delivery.status is None and delivery.error
    assert "webhook delivery" in caplog.text
