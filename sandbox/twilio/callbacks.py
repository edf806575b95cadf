"""Status callbacks: form POSTs signed with X-Twilio-Signature, delivered off the request thread.

Items queue as messages change status; a daemon thread posts them (``auto_deliver = False``
leaves them queued) and ``flush()`` posts whatever is pending in the caller's thread, so
tests are deterministic. Failures are logged and kept in ``deliveries``; they never reach
the API caller (Twilio does not retry status callbacks either).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests

from sandbox.delivery import BackgroundDelivery

from .signing import sign

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"


@dataclass
class Callback:
    """One POST to the application and how it went."""

    url: str
    params: list[tuple[str, str]]
    signature: str
    status: int | None = None
    body: str = ""
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "params": dict(self.params),
            "signature": self.signature,
            "status": self.status,
            "error": self.error,
        }


def post_signed(
    url: str, params: list[tuple[str, str]], auth_token: str, timeout: float
) -> Callback:
    """POST `params` as a form to `url`, signed; record the outcome (never raise)."""
    callback = Callback(url, params, sign(url, params, auth_token))
    try:
        response = requests.post(
            url,
            data=params,
            headers={SIGNATURE_HEADER: callback.signature, "User-Agent": "TwilioProxy/1.1"},
            timeout=timeout,
            allow_redirects=False,
        )
        callback.status = response.status_code
        callback.body = response.text
        if response.status_code >= 300:
            logger.warning("callback to %s answered %s", url, response.status_code)
    except requests.RequestException as exc:
        callback.error = str(exc)
        logger.warning("callback to %s failed: %s", url, exc)
    return callback


class CallbackDispatcher(BackgroundDelivery[tuple[str, list[tuple[str, str]]]]):
    """Queues (url, params) status callbacks and POSTs each, signed with the auth token."""

    thread_name = "twilio-callbacks"

    def __init__(self, auth_token: str, timeout: float = 5.0) -> None:
        super().__init__(timeout)
        self.auth_token = auth_token
        self.deliveries: list[Callback] = []

    def enqueue(self, url: str, params: list[tuple[str, str]]) -> None:
        self._push([(url, params)])

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def _deliver_batch(self, batch: list[tuple[str, list[tuple[str, str]]]]) -> list[Callback]:
        done = [post_signed(url, params, self.auth_token, self.timeout) for url, params in batch]
        self.deliveries.extend(done)
        return done
