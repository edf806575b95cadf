"""Everything the sandbox knows: companies, tokens, faults, webhooks, idempotency, the clock."""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandbox.durable import StateFile

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
    With a state file (``open``), every request's changes are journaled before it is
    answered; a caller that changes the state directly calls ``persist()`` (or
    ``checkpoint()`` after a big change such as seeding).
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
        self._file: StateFile | None = None
        self._closed = False
        self._saved_tokens = -1
        self._saved_default: str | None = None
        self._unsaved_answers: list[tuple[str, str]] = []

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
            company.changes = set() if self._file is not None else None
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
        if self._file is not None:
            self._unsaved_answers.append((realm_id, request_id))

    def flush_webhooks(self, timeout: float = 5.0) -> list[Delivery]:
        """Deliver pending webhook notifications now (deterministic tests)."""
        return self.webhooks.flush(timeout)

    def to_dict(self) -> dict[str, Any]:
        """Serialize companies, tokens and the answers kept for requestid replays."""
        with self.lock:
            return {
                "version": 1,
                "default_realm_id": self.default_realm_id,
                "companies": [c.to_dict() for c in self.companies.values()],
                "tokens": self.tokens.to_dict(),
                "answers": [_answer(key, cached) for key, cached in self.idempotency.items()],
            }

    def load_dict(self, data: dict[str, Any]) -> None:
        """Replace companies, tokens and kept answers with a serialized state."""
        with self.lock:
            self.companies = {}
            for raw in data.get("companies", []):
                company = Company.from_dict(raw, self.now)
                self.companies[company.realm_id] = company
            self.default_realm_id = data.get("default_realm_id") or next(iter(self.companies), None)
            self.tokens.load_dict(data.get("tokens", {}))
            self.idempotency.clear()
            self._load_answers(data.get("answers", []))

    def _load_answers(self, answers: list[list[Any]]) -> None:
        """Kept requestid answers, read back from the state file."""
        for realm_id, request_id, status, body, mimetype in answers:
            cached = CachedResponse(int(status), body.encode("utf-8"), mimetype)
            self.idempotency[(realm_id, request_id)] = cached
            self.idempotency.move_to_end((realm_id, request_id))
        while len(self.idempotency) > IDEMPOTENCY_CAPACITY:
            self.idempotency.popitem(last=False)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the whole state to a state file atomically (its journal starts over)."""
        store = StateFile(path, dumps, loads)
        store.write_snapshot(self.to_dict())
        store.close()
        logger.info("sandbox state saved to %s", path)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read a state file: its snapshot, then every change journaled after it."""
        with self.lock:
            self._read(StateFile(path, dumps, loads))
        logger.info("sandbox state loaded from %s", path)

    def _read(self, store: StateFile) -> bool:
        """Load a state file's snapshot and journal; False when there is no file yet."""
        snapshot, records = store.read()
        if snapshot is None:
            return False
        self.load_dict(snapshot)
        for record in records:
            self._apply(record)
        for company in self.companies.values():
            company.ledger.rebuild(company.rows)
        return True

    def open(self, path: str | os.PathLike[str]) -> None:
        """Load a state file (if any) and keep it current from now on."""
        with self.lock:
            store = StateFile(path, dumps, loads)
            found = self._read(store)
            self._file = store
            self._closed = False
            for company in self.companies.values():
                company.changes = set()
            if not found or store.needs_snapshot:
                self.checkpoint()
            else:
                store.resume()
                self._mark_saved()
        logger.info("sandbox state %s in %s", "loaded" if found else "kept", path)

    def persist(self) -> None:
        """Journal every change since the last call, on disk before this returns.

        The server calls it after each request, before answering; without a state file it
        does nothing."""
        with self.lock:
            if self._file is None:
                if self._closed:
                    raise RuntimeError("the sandbox is stopping: changes can no longer be kept")
                return
            record = self._changes()
            if record is None:
                return
            self._file.append(record)
            self._mark_saved()
            if self._file.compaction_due:
                self.checkpoint()

    def checkpoint(self) -> None:
        """Write the whole state as a new snapshot (after seeding, at stop, when the journal
        has grown big)."""
        with self.lock:
            if self._file is None:
                return
            for company in self.companies.values():
                company.changes = set()
            self._file.write_snapshot(self.to_dict())
            self._mark_saved()

    def close(self) -> None:
        """Fold the journal into the snapshot and stop keeping the file."""
        with self.lock:
            if self._file is None:
                return
            self.persist()
            if not self._file.journal_is_empty:
                self.checkpoint()
            self._file.close()
            self._file = None
            self._closed = True
            for company in self.companies.values():
                company.changes = None

    def _mark_saved(self) -> None:
        """Remember that everything up to now is in the file."""
        self._saved_tokens = self.tokens.version
        self._saved_default = self.default_realm_id
        self._unsaved_answers = []

    def _changes(self) -> dict[str, Any] | None:
        """One journal record with everything not saved yet (None: nothing changed)."""
        companies = [c for c in (c.take_changes() for c in self.companies.values()) if c]
        record: dict[str, Any] = {"companies": companies}
        if self.tokens.version != self._saved_tokens:
            record["tokens"] = self.tokens.to_dict()
        if self.default_realm_id != self._saved_default:
            record["default_realm_id"] = self.default_realm_id
        answers = [key for key in self._unsaved_answers if key in self.idempotency]
        if answers:
            record["answers"] = [_answer(key, self.idempotency[key]) for key in answers]
        if not companies and len(record) == 1:
            return None
        return record

    def _apply(self, record: dict[str, Any]) -> None:
        """Replay one journal record."""
        for raw in record["companies"]:
            company = self.companies.get(raw["realm_id"])
            if company is None:
                company = Company(
                    raw["realm_id"],
                    raw["name"],
                    self.now,
                    timedelta(seconds=raw["utc_offset_seconds"]),
                )
                self.companies[company.realm_id] = company
            company.apply_changes(raw)
        if "tokens" in record:
            self.tokens.load_dict(record["tokens"])
        if "default_realm_id" in record:
            self.default_realm_id = record["default_realm_id"]
        self._load_answers(record.get("answers", []))


def _answer(key: tuple[str, str], cached: CachedResponse) -> list[Any]:
    """A kept requestid answer as the state file holds it."""
    return [*key, cached.status, cached.body.decode("utf-8"), cached.mimetype]


__all__ = ["CachedResponse", "QboFault", "SandboxState"]
