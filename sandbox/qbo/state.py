"""Everything the sandbox knows: companies, tokens, faults, webhooks, idempotency, the clock."""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .faults import FaultInjector, QboFault, authorization_failed
from .seed import add_base_records
from .store import Company
from .tokens import TokenStore
from .util import DEFAULT_UTC_OFFSET, dumps, loads, system_clock
from .webhooks import Delivery, WebhookDispatcher

logger = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_REALM_ID = "9130350000000001"
IDEMPOTENCY_CAPACITY = 20000


@dataclass
class CachedResponse:
    """The first response to a write carrying a requestid."""

    status: int
    body: bytes
    mimetype: str


class SandboxState:
    """Shared, lock-protected sandbox state. Tests may inspect and change it directly.

    Hold ``state.lock`` while touching companies from another thread than the server's.
    """

    def __init__(
        self,
        clock: Callable[[], datetime] | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
    ) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], datetime] = clock or system_clock
        self.companies: dict[str, Company] = {}
        self.default_realm_id: str | None = None
        self.tokens = TokenStore(self.now)
        self.tokens.register_client(client_id, client_secret)
        self.client_id = client_id
        self.faults = FaultInjector(self.now, self.tokens)
        self.webhooks = WebhookDispatcher()
        self.idempotency: OrderedDict[tuple[str, str], CachedResponse] = OrderedDict()

    def now(self) -> datetime:
        """Current time from the injectable clock (``state.clock``)."""
        return self.clock()

    def add_company(
        self,
        realm_id: str | None = None,
        name: str = "Sandbox Company_US_1",
        utc_offset: timedelta = DEFAULT_UTC_OFFSET,
    ) -> Company:
        """Create a company with a starter chart of accounts, payment methods and items."""
        with self.lock:
            realm_id = realm_id or str(int(DEFAULT_REALM_ID) + len(self.companies))
            company = Company(realm_id, name, self.now, utc_offset)
            add_base_records(company)
            company.drain_events()
            self.companies[realm_id] = company
            self.default_realm_id = self.default_realm_id or realm_id
            return company

    def company(self, realm_id: str) -> Company:
        """The company for a realm id, or a 403 fault."""
        company = self.companies.get(realm_id)
        if company is None:
            raise authorization_failed(f"Company {realm_id} does not exist in this sandbox")
        return company

    def connect(self, realm_id: str | None = None) -> dict[str, Any]:
        """Issue tokens for a company without the OAuth browser dance (test/dev helper)."""
        realm = realm_id or self.default_realm_id or self.add_company().realm_id
        return self.tokens.issue_for(realm, self.client_id, "com.intuit.quickbooks.accounting")

    def remember(self, realm_id: str, request_id: str, response: CachedResponse) -> None:
        """Keep the first response to a requestid (bounded, oldest forgotten first)."""
        self.idempotency[(realm_id, request_id)] = response
        while len(self.idempotency) > IDEMPOTENCY_CAPACITY:
            self.idempotency.popitem(last=False)

    def flush_webhooks(self, timeout: float = 5.0) -> list[Delivery]:
        """Deliver pending webhook notifications now (deterministic tests)."""
        return self.webhooks.flush(timeout)

    def to_dict(self) -> dict[str, Any]:
        """Serialize companies and tokens."""
        with self.lock:
            return {
                "version": 1,
                "default_realm_id": self.default_realm_id,
                "companies": [c.to_dict() for c in self.companies.values()],
                "tokens": self.tokens.to_dict(),
            }

    def load_dict(self, data: dict[str, Any]) -> None:
        """Replace companies and merge tokens from a serialized state."""
        with self.lock:
            self.companies = {}
            for raw in data.get("companies", []):
                company = Company.from_dict(raw, self.now)
                self.companies[company.realm_id] = company
            self.default_realm_id = data.get("default_realm_id") or next(iter(self.companies), None)
            self.tokens.load_dict(data.get("tokens", {}))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state file atomically."""
        target = Path(path)
        temporary = target.with_suffix(target.suffix + ".tmp")
        temporary.write_text(dumps(self.to_dict()), encoding="utf-8")
        temporary.replace(target)
        logger.info("sandbox state saved to %s", target)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read a state file written by save()."""
        self.load_dict(loads(Path(path).read_text(encoding="utf-8")))
        logger.info("sandbox state loaded from %s", path)


__all__ = ["CachedResponse", "QboFault", "SandboxState"]
