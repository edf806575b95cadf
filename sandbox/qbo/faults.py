"""QBO Fault envelopes and the fault-injection switchboard (`state.faults`).

Fault injection is global with optional per-company scoping:

- ``faults.throttle_limit`` (default 500) requests per company per rolling minute, measured
  on the sandbox clock; ``None`` switches throttling off. ``faults.batch_throttle_limit``
  (default 40) does the same for ``/batch``. ``faults.concurrency_limit`` (default 10) caps
  requests in flight per company. Over a limit: HTTP 429, code 3001 ThrottleExceeded
  (``faults.throttle_body = "xml"`` sends the historical XML body instead of JSON).
- ``faults.latency_seconds`` adds a delay to every data API call.
- ``faults.fail_next(count, status)`` makes the next ``count`` data API calls fail with a
  5xx; ``faults.fail_on_call(n, status)`` lets ``n - 1`` calls through and fails the n-th.
- ``faults.expire_access_tokens()`` makes every current access token expired (API → 401);
  ``faults.revoke_refresh_tokens()`` makes every refresh token die (token → invalid_grant).
- ``faults.lose_next_answers(count)``: the next ``count`` data API calls are carried out (and
  remembered under their requestid) but their answers are lost: HTTP 504 from the gateway in
  front of QuickBooks, as when a connection times out after the write.
- ``faults.forbid_next(count)``: the next ``count`` data API calls get HTTP 403
  AuthorizationFault (the company's authorization was withdrawn).
- ``faults.lose_next_writes(count)``: the same, for the next ``count`` writes (POSTs other than
  queries) only, so a read before the write is answered.
- ``faults.edit_before_next_writes(count, changes)``: someone edits the row in QuickBooks
  between the caller's read and each of the next ``count`` updates, so its SyncToken moves
  (5010); ``changes`` (top-level fields, merged as a sparse update) is what they changed.
- ``faults.reset()`` restores the defaults.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

DEFAULT_THROTTLE_PER_MINUTE = 500
DEFAULT_BATCH_THROTTLE_PER_MINUTE = 40
DEFAULT_CONCURRENCY_LIMIT = 10

THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3"><Fault type="SERVICE">'
    '<Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429'
    "</Message><Detail>The request limit was reached.</Detail></Error></Fault></IntuitResponse>"
)


class QboFault(Exception):
    """An error the API reports as a Fault envelope."""

    def __init__(
        self,
        status: int,
        code: str | int,
        message: str,
        detail: str = "",
        fault_type: str = "ValidationFault",
        element: str = "",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.status = status
        self.code = str(code)
        self.message = message
        self.detail = detail
        self.fault_type = fault_type
        self.element = element

    def fault(self) -> dict[str, Any]:
        """Return the inner Fault object (also used inside batch item responses)."""
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element:
            error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}


def not_found(entity: str, object_id: str) -> QboFault:
    """Code 610: the object does not exist (or was deleted)."""
    detail = (
        f"Object Not Found : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. "
        f"({entity} {object_id})"
    )
    return QboFault(400, 610, "Object Not Found", detail)


def stale_object(entity: str, object_id: str) -> QboFault:
    """Code 5010: the caller's SyncToken is not the current one."""
    detail = (
        f"Stale Object Error : You and Sandbox were working on this at the same time. "
        f"Sandbox finished before you did, so your work was not saved. ({entity} {object_id})"
    )
    return QboFault(400, 5010, "Stale Object Error", detail)


def duplicate_name(name: str) -> QboFault:
    """Code 6240: a name-list entity with this name already exists."""
    detail = (
        "The name supplied already exists. : Another customer, vendor or employee is already "
        f"using this name. Please use a different name. ({name})"
    )
    return QboFault(400, 6240, "Duplicate Name Exists Error", detail)


def required(element: str) -> QboFault:
    """Code 2020: a required field is missing."""
    return QboFault(
        400,
        2020,
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element=element,
    )


def invalid_reference(entity: str, ref: str) -> QboFault:
    """Code 2500: a *Ref points to nothing usable."""
    detail = f"Invalid Reference Id : {entity} assigned to this transaction ({ref}) does not exist"
    return QboFault(400, 2500, "Invalid Reference Id", detail, element=f"{entity}Ref")


def business_rule(detail: str) -> QboFault:
    """Code 6000: a business validation error."""
    return QboFault(
        400,
        6000,
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
    )


def invalid_request(detail: str, element: str = "") -> QboFault:
    """Code 2010: malformed body or an unsupported property."""
    return QboFault(
        400, 2010, "Request has invalid or unsupported property", detail, element=element
    )


def too_long(element: str, limit: int) -> QboFault:
    """Code 2050: a string longer than the field takes."""
    return QboFault(
        400,
        2050,
        "String length specified does not match the supported length",
        f"String length specified does not match the supported length. Min:0 Max:{limit} "
        f"supported. ({element})",
        element=element,
    )


def unsupported(detail: str) -> QboFault:
    """Code 500: the operation or entity is not supported."""
    return QboFault(400, 500, "Unsupported Operation", detail)


def authentication_failed(detail: str) -> QboFault:
    """HTTP 401 AuthenticationFault (python-quickbooks reads no body)."""
    return QboFault(
        401,
        3200,
        "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        detail,
        fault_type="AuthenticationFault",
    )


def authorization_failed(detail: str) -> QboFault:
    """HTTP 403 AuthorizationFault: the token is not for this company."""
    return QboFault(
        403,
        3100,
        "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
        detail,
        fault_type="AuthorizationFault",
    )


def throttled() -> QboFault:
    """HTTP 429, code 3001 ThrottleExceeded."""
    return QboFault(
        429,
        3001,
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached.",
        fault_type="ThrottleExceeded",
    )


def server_error(status: int) -> QboFault:
    """An injected 5xx SystemFault."""
    message = "An application error has occurred while processing your request"
    if status == 503:
        message = "Service Unavailable"
    return QboFault(status, 10000, message, "System Failure Error: injected", "SystemFault")


class TokenFaults(Protocol):
    """What the fault switchboard needs from the token store."""

    def expire_access_tokens(self, realm_id: str | None = None) -> int: ...

    def revoke_refresh_tokens(self, realm_id: str | None = None) -> int: ...


@dataclass
class ScheduledError:
    """Fail `count` calls with `status` after letting `skip` calls through."""

    status: int
    skip: int
    count: int
    realm_id: str | None


class FaultInjector:
    """Throttling, latency and injected failures for the data API (see module docstring)."""

    def __init__(self, clock: Callable[[], datetime], tokens: TokenFaults) -> None:
        self._clock = clock
        self._tokens = tokens
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, bool], deque[float]] = {}
        self._in_flight: dict[str, int] = {}
        self._scheduled: list[ScheduledError] = []
        self.reset()

    def reset(self) -> None:
        """Restore the default limits and drop every scheduled failure."""
        with self._lock:
            self.latency_seconds = 0.0
            self.throttle_limit: int | None = DEFAULT_THROTTLE_PER_MINUTE
            self.batch_throttle_limit: int | None = DEFAULT_BATCH_THROTTLE_PER_MINUTE
            self.concurrency_limit: int | None = DEFAULT_CONCURRENCY_LIMIT
            self.throttle_body = "json"
            self._windows.clear()
            self._scheduled.clear()
            self._lose = 0
            self._lose_writes = 0
            self._forbid = 0
            self._edits = 0
            self.edit_changes: dict[str, Any] = {}

    def lose_next_answers(self, count: int = 1) -> None:
        """Carry out the next `count` calls but answer each with a gateway timeout (504)."""
        with self._lock:
            self._lose += count

    def lose_next_writes(self, count: int = 1) -> None:
        """Carry out the next `count` writes but answer each with a gateway timeout (504)."""
        with self._lock:
            self._lose_writes += count

    def forbid_next(self, count: int = 1) -> None:
        """Answer the next `count` calls with 403 AuthorizationFault."""
        with self._lock:
            self._forbid += count

    def edit_before_next_writes(
        self, count: int = 1, changes: dict[str, Any] | None = None
    ) -> None:
        """Move the SyncToken of the row the next `count` updates target, just before them,
        changing `changes` in it (top-level fields) as someone in the office would."""
        with self._lock:
            self._edits += count
            self.edit_changes = dict(changes or {})

    def take(self, name: str) -> bool:
        """Consume one of the scheduled `lose`, `lose_writes`, `forbid` or `edits` faults."""
        attr = f"_{name}"
        with self._lock:
            left: int = getattr(self, attr)
            if left <= 0:
                return False
            setattr(self, attr, left - 1)
            return True

    def fail_next(self, count: int = 1, status: int = 503, realm_id: str | None = None) -> None:
        """Make the next `count` data API calls fail with HTTP `status`."""
        with self._lock:
            self._scheduled.append(ScheduledError(status, 0, count, realm_id))

    def fail_on_call(
        self, n: int, status: int = 500, count: int = 1, realm_id: str | None = None
    ) -> None:
        """Let n-1 calls through, then fail `count` calls with HTTP `status`."""
        with self._lock:
            self._scheduled.append(ScheduledError(status, n - 1, count, realm_id))

    def expire_access_tokens(self, realm_id: str | None = None) -> int:
        """Expire every current access token (optionally one company's); returns how many."""
        return self._tokens.expire_access_tokens(realm_id)

    def revoke_refresh_tokens(self, realm_id: str | None = None) -> int:
        """Kill every refresh token (optionally one company's); returns how many."""
        return self._tokens.revoke_refresh_tokens(realm_id)

    def admit(self, realm_id: str, is_batch: bool) -> None:
        """Count a call against the limits; raise the fault it should get, else hold a slot."""
        with self._lock:
            self._check_throttle(realm_id, is_batch)
            in_flight = self._in_flight.get(realm_id, 0)
            if self.concurrency_limit is not None and in_flight >= self.concurrency_limit:
                raise throttled()
            status = self._take_scheduled(realm_id)
            if status is not None:
                raise server_error(status)
            self._in_flight[realm_id] = in_flight + 1

    def release(self, realm_id: str) -> None:
        """Free the concurrency slot taken by admit()."""
        with self._lock:
            self._in_flight[realm_id] = max(0, self._in_flight.get(realm_id, 0) - 1)

    def _check_throttle(self, realm_id: str, is_batch: bool) -> None:
        """Apply the rolling one-minute request windows."""
        now = self._clock().timestamp()
        limits = [(False, self.throttle_limit)]
        if is_batch:
            limits.append((True, self.batch_throttle_limit))
        for key, limit in limits:
            window = self._windows.setdefault((realm_id, key), deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if limit is not None and len(window) >= limit:
                raise throttled()
        for key, _limit in limits:
            self._windows[(realm_id, key)].append(now)

    def _take_scheduled(self, realm_id: str) -> int | None:
        """Consume one step of the scheduled failures; return a status to fail with."""
        fired: int | None = None
        for entry in list(self._scheduled):
            if entry.realm_id not in (None, realm_id):
                continue
            if entry.skip > 0:
                entry.skip -= 1
            elif fired is None:
                fired = entry.status
                entry.count -= 1
                if entry.count <= 0:
                    self._scheduled.remove(entry)
        return fired
