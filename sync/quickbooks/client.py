"""The python-quickbooks client as the adapter uses it: timeouts, response classification before
the library parses anything, and the retry loop (throttling, 5xx, 401 → refresh)."""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import requests
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException
from requests_oauthlib import OAuth2Session

from portal.config import QuickBooksSettings
from sync.accounting import AccountingError, AuthorizationLost, Throttled, refusal

logger = logging.getLogger(__name__)

T = TypeVar("T")

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# requests-oauthlib logs the bearer token and the request headers at DEBUG; keep tokens out of
# the logs even when someone turns DEBUG on for the whole process.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.INFO)


class TooManyRequests(Exception):
    """HTTP 429: QuickBooks wants us to slow down."""


class Transient(Exception):
    """A 5xx, a timeout or a refused connection: worth retrying after a pause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        # it completes "QuickBooks kept ...", e.g. "answering 503"
        self.reason = reason


class Unauthorized(Exception):
    """HTTP 401: the access token is expired or revoked."""


class Forbidden(Exception):
    """HTTP 403: the token is not (or no longer) good for this company."""


class Malformed(Exception):
    """The answer should have been JSON and is not."""


class TokenSource(Protocol):
    """Where the adapter gets access tokens; it owns refreshing and storing them."""

    def access_token(self) -> str:
        """A usable access token (refreshed first when it expires within a minute)."""
        ...

    def refresh(self, rejected: str) -> str:
        """A new access token after QuickBooks refused `rejected` with 401."""
        ...


def allow_plain_http_on_loopback(api_base_url: str) -> None:
    """Let requests-oauthlib talk plain http to a local sandbox, and nowhere else."""
    parts = urlsplit(api_base_url)
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        # requests-oauthlib refuses bearer tokens over http unless this is set; a sandbox on
        # loopback never leaves the machine, so the token cannot be sniffed on a network.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


class QboClient(QuickBooks):
    """QuickBooks with a timeout, a request counter and early classification of answers."""

    timeout: float = 30
    on_request: Callable[[], None] = staticmethod(lambda: None)

    def process_request(
        self,
        request_type: str,
        url: str,
        headers: Any = "",
        params: Any = "",
        data: Any = "",
    ) -> requests.Response:
        """Send one request; raise Unauthorized/TooManyRequests/Transient/Malformed before the
        library reads the body (it would misread a 429 XML body or an HTML error page)."""
        if self.session is None:
            raise QuickbooksException("No session manager")
        self.on_request()
        try:
            response: requests.Response = self.session.request(
                request_type,
                url,
                headers=dict(headers or {}),
                params=params or None,
                data=data or None,
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            raise Transient(f"timing out (no answer within {self.timeout:g} s)") from exc
        except requests.ConnectionError as exc:
            raise Transient(f"being unreachable ({type(exc).__name__})") from exc
        _classify(response)
        return response

    def batch(self, payload: str, request_id: str) -> Any:
        """POST /batch carrying a requestid (the library's batch_operation sends none), paced
        to QuickBooks' limit of batch requests a minute per company (a 429 costs a call and a
        longer wait than keeping under it)."""
        BATCH_PACER.wait(f"{self.api_url}|{self.company_id}")  # per company, per QuickBooks
        url = f"{self.api_url}/company/{self.company_id}/batch"
        return self.post(url, payload, request_id=request_id)


class Pacer:
    """At most `limit` calls per `window` seconds per key, in this process: a call past it
    waits until the oldest of the window's calls is `window` seconds old. (One sync worker
    holds each company, so the process sees every batch call of its company.)"""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Take the next free place in `key`'s window and wait for it (outside the lock: other
        companies do not wait); the seconds waited."""
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            now = self.clock()
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            at = now
            if len(calls) >= self.limit:
                at = calls[-self.limit] + self.window  # the place the limit-th last call frees
            calls.append(at)
        if at > now:
            self.sleep(at - now)
        return at - now


# Intuit: 40 batch requests a minute per company (realm). A second more than the minute, since
# QuickBooks times a request when it arrives, and an early one may have arrived late.
BATCH_PACER = Pacer(limit=40, window=61.0)


def _classify(response: requests.Response) -> None:
    """Turn what the library would mishandle into our exceptions."""
    status = response.status_code
    if status == 401:
        raise Unauthorized()
    if status == 403:
        raise Forbidden()
    if status == 429:
        raise TooManyRequests()
    if status >= 500:
        raise Transient(f"answering {status}")
    kind = response.headers.get("Content-Type", "")
    if status == 200 and kind.startswith("application/pdf"):
        return
    try:
        # parsed twice (here and by the library): cheap next to the network, and it keeps the
        # library's own parsing untouched
        json.loads(response.content)
    except ValueError:
        snippet = response.text[:80].replace("\n", " ")
        raise Malformed(
            f"HTTP {status}, {kind or 'no content type'}, starting {snippet!r}"
        ) from None


def build_client(
    settings: QuickBooksSettings,
    realm_id: str,
    access_token: str,
    on_request: Callable[[], None],
) -> QboClient:
    """A fresh client for one access token (the library never updates a session's token)."""
    client = QboClient(company_id=realm_id, minorversion=settings.minor_version, use_decimal=True)
    client.api_url_v3 = settings.api_base_url.rstrip("/")
    client.timeout = settings.timeout_seconds
    client.on_request = on_request
    client.session = OAuth2Session(
        settings.client_id, token={"access_token": access_token, "token_type": "Bearer"}
    )
    return client


def fault_error(exc: QuickbooksException, what: str) -> AccountingError:
    """A QuickBooks Fault as our error, keeping its code as a string ("610")."""
    detail = f" ({exc.detail})" if exc.detail else ""
    message = f"QuickBooks refused {what}: {exc.message}{detail}"
    return refusal(message, str(exc.error_code))


def item_fault(fault: Any, what: str) -> AccountingError:
    """The Fault of one batch item as our error; a SystemFault is worth another try."""
    errors = fault.get("Error") if isinstance(fault, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    detail = f" ({first['Detail']})" if first.get("Detail") else ""
    message = f"QuickBooks refused {what}: {first.get('Message', 'no message')}{detail}"
    code = first.get("code")
    retryable = isinstance(fault, dict) and fault.get("type") == "SystemFault"
    return refusal(message, str(code) if code else None, retryable)


class Retrier:
    """Runs one API call with a fresh token, refreshing once on 401, waiting on 429 and backing
    off on 5xx, timeouts and refused connections, up to max_retries retries in all."""

    def __init__(
        self,
        settings: QuickBooksSettings,
        tokens: TokenSource,
        client_for: Callable[[str], QboClient],
        sleep: Callable[[float], None],
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.client_for = client_for
        self.sleep = sleep

    def run(self, what: str, call: Callable[[QboClient], T]) -> T:
        """Call QuickBooks for `what` (words for messages, e.g. "the Invoice query")."""
        refreshed = False
        retries = 0
        while True:
            token = self.tokens.access_token()
            try:
                return call(self.client_for(token))
            except Unauthorized:
                if refreshed:
                    raise AuthorizationLost(
                        f"QuickBooks refused a freshly renewed access token for {what}; "
                        "an administrator must connect QuickBooks again",
                        code="401",
                    ) from None
                logger.info("access token refused for %s; renewing it", what)
                self.tokens.refresh(token)
                refreshed = True
                continue
            except Forbidden:
                raise AuthorizationLost(
                    f"QuickBooks answered 403 (not authorized for this company) for {what}; "
                    "an administrator must connect QuickBooks again",
                    code="403",
                ) from None
            except TooManyRequests:
                failure = "answering 429 (too many requests)"
                pause = float(self.settings.throttle_wait_seconds)
            except Transient as exc:
                failure, pause = exc.reason, self._backoff(retries)
            except Malformed as exc:
                raise AccountingError(
                    f"QuickBooks answered {what} with something that is not JSON: {exc}",
                    retryable=True,
                ) from None
            except QuickbooksException as exc:
                raise fault_error(exc, what) from None
            retries += 1
            if retries > self.settings.max_retries:
                limit = self.settings.max_retries
                kind = Throttled if failure.startswith("answering 429") else AccountingError
                raise kind(
                    f"QuickBooks kept {failure} for {what} after {limit} "
                    f"{'retry' if limit == 1 else 'retries'}",
                    retryable=True,
                )
            logger.warning("QuickBooks %s (%s); retry %s in %.1f s", failure, what, retries, pause)
            self.sleep(pause)

    @staticmethod
    def _backoff(retries: int) -> float:
        """Exponential back-off with jitter, so parallel workers do not retry in step."""
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**retries)
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311  (jitter, not a secret)
