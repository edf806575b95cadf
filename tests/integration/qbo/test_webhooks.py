"""Webhook notifications: signature, synchronous flush, background delivery, failures."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from quickbooks import QuickBooks
from werkzeug.serving import make_server

from sandbox.qbo import QboSandbox, sign_payload, verify_signature

from .test_entities import new_customer

VECTOR_SIGNATURE = "nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA="


class Receiver:
    """A loopback HTTP endpoint recording every POST it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/qbo"
        self.thread = threading.Thread(
            target=lambda: self.server.serve_forever(poll_interval=0.05), daemon=True
        )

    def app(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        """WSGI: record the request, answer 200."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {
            k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        self.received.append((headers, body))
        start("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running webhook receiver."""
    endpoint = Receiver()
    endpoint.thread.start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def test_signature_matches_the_published_test_vector(qb: QuickBooks) -> None:
    assert sign_payload(b'{"stuff":"5"}', "verify_me") == VECTOR_SIGNATURE
    assert verify_signature(b'{"stuff":"5"}', VECTOR_SIGNATURE, "verify_me")
    assert qb.validate_webhook_signature('{"stuff":"5"}', VECTOR_SIGNATURE, "verify_me")


def test_flush_delivers_a_signed_event_notification(
    sandbox: QboSandbox, qb: QuickBooks, receiver: Receiver
) -> None:
    sandbox.state.webhooks.configure(receiver.url, "verify_me", auto=False)
    created = new_customer("Hooked Customer").save(qb=qb)
    assert receiver.received == []
    deliveries = sandbox.state.flush_webhooks()
    assert [d.status for d in deliveries] == [200]
    headers, body = receiver.received[0]
    assert qb.validate_webhook_signature(body.decode(), headers["intuit-signature"], "verify_me")
    notification = json.loads(body)["eventNotifications"][0]
    assert notification["realmId"] == qb.company_id
    entities = notification["dataChangeEvent"]["entities"]
    assert {"name": "Customer", "id": created.Id, "operation": "Create"}.items() <= entities[
        0
    ].items()
    assert entities[0]["lastUpdated"].endswith("-07:00")


def test_background_delivery_happens_without_a_flush(
    sandbox: QboSandbox, qb: QuickBooks, receiver: Receiver
) -> None:
    sandbox.state.webhooks.configure(receiver.url, "verify_me")
    new_customer("Async Customer").save(qb=qb)
    deadline = time.monotonic() + 5
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert receiver.received
    sandbox.state.flush_webhooks()


def test_a_dead_webhook_endpoint_never_breaks_the_api(sandbox: QboSandbox, qb: QuickBooks) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    sandbox.state.webhooks.configure(f"http://127.0.0.1:{dead_port}/hook", "verify_me", auto=False)
    saved = new_customer("Unheard Customer").save(qb=qb)
    assert saved.Id
    deliveries = sandbox.state.flush_webhooks()
    assert deliveries[0].status is None
    assert deliveries[0].error
