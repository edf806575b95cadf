"""Background delivery of a sandbox's webhook notifications (both sandboxes use it).

Items queue from request threads; a daemon thread delivers them (or, with auto delivery
off, they wait), and flush() delivers what is pending in the caller's thread after any
delivery in progress, so tests are deterministic."""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class BackgroundDelivery(Generic[T]):
    """A queue of items and the thread that delivers them; subclasses say how."""

    thread_name = "sandbox-webhooks"

    def __init__(self, timeout: float = 2.0) -> None:
        self.timeout = timeout
        self.auto_deliver = True
        self._pending: list[T] = []
        self._cond = threading.Condition()
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    def _deliver_batch(self, batch: list[T]) -> list[Any]:
        """Deliver a batch; return what was recorded of each delivery."""
        raise NotImplementedError

    def _push(self, items: list[T]) -> None:
        """Queue items; wake (or start) the delivery thread when delivery is automatic."""
        with self._cond:
            self._pending.extend(items)
            if self.auto_deliver:
                self._ensure_thread()
                self._cond.notify_all()

    def flush(self, timeout: float = 5.0) -> list[Any]:
        """Deliver everything pending now; return the deliveries made by this call."""
        with self._cond:
            self._cond.wait_for(lambda: not self._busy, timeout=timeout)
            batch, self._pending = self._pending, []
        return self._deliver_batch(batch) if batch else []

    def stop(self) -> None:
        """Stop the delivery thread (pending items are dropped)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None

    def _ensure_thread(self) -> None:
        """Start the daemon delivery thread on first use."""
        if self._thread is None or not self._thread.is_alive():
            self._stopped = False
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """Delivery loop: take everything pending, deliver it, repeat."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopped or bool(self._pending))
                if self._stopped:
                    return
                batch, self._pending = self._pending, []
                self._busy = True
            try:
                self._deliver_batch(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
