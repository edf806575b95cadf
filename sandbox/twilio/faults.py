"""Fault injection for the Messages API (`state.faults`), applied to POST .../Messages.json.

- ``fail_next(count, status)``: the next ``count`` sends answer ``status`` without sending:
  429 (code 20429, Too Many Requests) or a 5xx (code 20500, internal error).
- ``lose_next(count)``: the next ``count`` sends are made (and progress as usual), but the
  answer is lost: the connection is closed before a byte of it is written.
- ``delay_seconds``: every API call waits this long before answering (for client timeouts).
- ``reset()`` clears them all.
"""

from __future__ import annotations

import threading
from typing import Any


class FaultInjector:
    """What the next API calls suffer; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[int] = []  # one HTTP status per coming send
        self._lost = 0
        self.delay_seconds = 0.0

    def fail_next(self, count: int, status: int = 500) -> None:
        """The next `count` sends fail with `status` (429 or 5xx) and send nothing."""
        if status != 429 and not 500 <= status <= 599:
            raise ValueError("status must be 429 or a 5xx")
        with self._lock:
            self._failures.extend([status] * count)

    def lose_next(self, count: int = 1) -> None:
        """The next `count` sends are made but their answers are lost."""
        with self._lock:
            self._lost += count

    def take_failure(self) -> int | None:
        """The status the send being handled must fail with, if any."""
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def take_lost(self) -> bool:
        """True when the answer of the send being handled must be lost."""
        with self._lock:
            if self._lost:
                self._lost -= 1
                return True
            return False

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._lost = 0
            self.delay_seconds = 0.0

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "fail_next": list(self._failures),
                "lose_next": self._lost,
                "delay_seconds": self.delay_seconds,
            }
