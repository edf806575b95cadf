"""Fault injection for the XML API (`state.faults`).

- ``fail_next(count=1, status=500)``: the next API calls get an HTTP error and no XML (the SDK
  swallows it and ``getresponse()`` is None).
- ``hang_next(count=1, seconds=None, before_charge=True)``: hold the next API calls.
  ``before_charge=True`` holds the request *before* it is processed; when the hang ends
  (``seconds`` elapsed, ``release()`` or the server stopping) the connection is closed
  without a reply and nothing was recorded. ``before_charge=False`` (alias
  ``hang_after_charge``) applies to the next createTransactionRequest: it is processed and
  recorded, then the reply is held; when the hang ends the reply is sent (to a client that
  has most likely given up). ``seconds=None`` holds until ``release()``.
- ``drop_after_charge(count=1)``: the next createTransactionRequest is processed and
  recorded, then the connection is closed without a reply.
- ``hold_for_review_next(count=1)`` / ``decline_next(count=1)``: the next charge or
  authorization is held for fraud review (responseCode 4, FDSPendingReview) or declined
  (responseCode 2).
- ``release()`` ends every hang in progress; ``reset()`` also drops everything scheduled.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

CHARGE_OPERATION = "createTransactionRequest"


@dataclass
class Plan:
    """What to do to one request."""

    fail_status: int | None = None
    hang_before: float | None = None
    hang_after: float | None = None
    drop_after: bool = False


@dataclass
class _Hang:
    count: int
    seconds: float | None
    before_charge: bool


class FaultInjector:
    """The switchboard; every method is thread-safe."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self.reset()

    def reset(self) -> None:
        """Forget everything scheduled and release current hangs."""
        with self._cond:
            self._fail: list[list[int]] = []
            self._hangs: list[_Hang] = []
            self._drops = 0
            self._holds = 0
            self._declines = 0
        self.release()

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next `count` API calls with HTTP `status` and no XML."""
        with self._cond:
            self._fail.append([count, status])

    def hang_next(
        self, count: int = 1, seconds: float | None = None, before_charge: bool = True
    ) -> None:
        """Hold the next `count` calls (see the module docstring for before/after)."""
        with self._cond:
            self._hangs.append(_Hang(count, seconds, before_charge))

    def hang_after_charge(self, count: int = 1, seconds: float | None = None) -> None:
        """Record the next charge, then hold its reply."""
        self.hang_next(count, seconds, before_charge=False)

    def drop_after_charge(self, count: int = 1) -> None:
        """Record the next charge(s), then close the connection without replying."""
        with self._cond:
            self._drops += count

    def hold_for_review_next(self, count: int = 1) -> None:
        """Hold the next charge(s) for fraud review (responseCode 4)."""
        with self._cond:
            self._holds += count

    def decline_next(self, count: int = 1) -> None:
        """Decline the next charge(s) (responseCode 2)."""
        with self._cond:
            self._declines += count

    def release(self) -> None:
        """End every hang in progress."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def plan(self, operation: str) -> Plan:
        """Consume what applies to a request for `operation`."""
        plan = Plan()
        is_charge = operation == CHARGE_OPERATION
        with self._cond:
            if self._fail:
                plan.fail_status = self._fail[0][1]
                self._fail[0][0] -= 1
                if self._fail[0][0] <= 0:
                    self._fail.pop(0)
                return plan
            for hang in self._hangs:
                if hang.before_charge or is_charge:
                    seconds = hang.seconds if hang.seconds is not None else -1.0
                    if hang.before_charge:
                        plan.hang_before = seconds
                    else:
                        plan.hang_after = seconds
                    hang.count -= 1
                    if hang.count <= 0:
                        self._hangs.remove(hang)
                    break
            if is_charge and self._drops and plan.hang_before is None:
                self._drops -= 1
                plan.drop_after = True
        return plan

    def take_decision(self) -> str | None:
        """'hold' or 'decline' when one is scheduled for the next charge."""
        with self._cond:
            if self._holds:
                self._holds -= 1
                return "hold"
            if self._declines:
                self._declines -= 1
                return "decline"
        return None

    def wait(self, seconds: float) -> None:
        """Block for `seconds` (negative: until release()), or until release()."""
        with self._cond:
            generation = self._generation
            self._cond.wait_for(
                lambda: self._generation != generation,
                timeout=None if seconds < 0 else seconds,
            )
