"""Everything the sandbox knows: credentials, tokens, transactions, batches, profiles, clock."""

from __future__ import annotations

import logging
import secrets
import string
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sandbox.qbo.util import system_clock

from . import models, persist
from .cards import Bank, Card, PaymentMethod
from .faults import FaultInjector
from .models import SETTLES_TO, AcceptToken, Batch, CustomerProfile, Transaction
from .statefile import AnetStateFile
from .tokens import DESCRIPTOR, bank_from_fields, card_from_fields
from .webhooks import Delivery, WebhookDispatcher

logger = logging.getLogger(__name__)

DEFAULT_API_LOGIN_ID = "sandbox-login"
DEFAULT_TRANSACTION_KEY = "sandbox-key"
DEFAULT_CLIENT_KEY = "5FcB6WrfHGS76gHW3v7btBCE3HuuBuke9Pj96Ztfn5R32G5ep42vne7MCWZtAucY"
DEFAULT_SIGNATURE_KEY = (
    "56E529FE3F4B2B0A4B4F3B8A5C1E0F9D2A7C6B5E4D3C2B1A0F9E8D7C6B5A4938"
    "2716A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D8E7F6"
)
TOKEN_LIFETIME = timedelta(minutes=15)
DEFAULT_CUTOFF = time(3, 0)  # daily settlement cut-off, UTC
_TOKEN_ALPHABET = string.ascii_letters + string.digits + "+/"


class AnetState:
    """Shared, lock-protected sandbox state; tests may inspect it (hold `lock` to change it).

    With a state file (``open``) every change is written before the request that made it is
    answered; a caller that changes the state directly calls ``mark_changed()`` and
    ``persist()``.
    """

    def __init__(
        self,
        clock: Callable[[], datetime] | None = None,
        api_login_id: str = DEFAULT_API_LOGIN_ID,
        transaction_key: str = DEFAULT_TRANSACTION_KEY,
        client_key: str = DEFAULT_CLIENT_KEY,
        signature_key: str = DEFAULT_SIGNATURE_KEY,
    ) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], datetime] = clock or system_clock
        self.api_login_id = api_login_id
        self.transaction_key = transaction_key
        self.client_key = client_key
        self.signature_key = signature_key
        self.merchant_name = "Sandbox Billing Portal Merchant"
        self.gateway_id = "482765"
        self.tokens: dict[str, AcceptToken] = {}
        self.transactions: dict[str, Transaction] = {}
        self.batches: dict[str, Batch] = {}
        self.profiles: dict[str, CustomerProfile] = {}
        self.faults = FaultInjector()
        self.webhooks = WebhookDispatcher()
        self.settlement_cutoff: time | None = DEFAULT_CUTOFF
        self._last_cutoff_check = self.now()
        self._ids = {"trans": 60000000000, "batch": 9900000, "profile": 500000000, "pp": 510000000}
        self._file: AnetStateFile | None = None
        self._closed = False
        self._unsaved = False

    def now(self) -> datetime:
        """Current time from the injectable clock."""
        return self.clock()

    def next_id(self, kind: str) -> str:
        """The next id of a kind: trans, batch, profile or pp (payment profile)."""
        with self.lock:
            self._ids[kind] += 1
            self._unsaved = True
            return str(self._ids[kind])

    @staticmethod
    def new_auth_code() -> str:
        """A six-character approval code."""
        return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(6))

    def credentials_ok(self, name: str | None, key: str | None) -> bool:
        """merchantAuthentication check (constant time)."""
        return secrets.compare_digest(name or "", self.api_login_id) and secrets.compare_digest(
            key or "", self.transaction_key
        )

    # Accept.js tokens

    def issue_token(self, method: PaymentMethod) -> tuple[str, str]:
        """Store a one-time token for `method`; return (dataDescriptor, dataValue)."""
        value = "eyJ" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(93))
        now = self.now()
        with self.lock:
            self.tokens[value] = AcceptToken(value, method, now, now + TOKEN_LIFETIME)
            self._unsaved = True
        logger.info("issued Accept token for %s %s", method.kind, method.masked)
        return DESCRIPTOR, value

    def tokenize_card(
        self,
        card_number: str,
        month: int | str,
        year: int | str,
        cvv: str | None = "123",
        zip: str | None = "98004",
        full_name: str | None = None,
    ) -> tuple[str, str]:
        """What Accept.dispatchData does for cardData; raises AcceptError when invalid."""
        fields: dict[str, Any] = {
            "cardNumber": card_number,
            "month": f"{int(month):02d}",
            "year": str(year),
        }
        fields |= {"cardCode": cvv, "zip": zip, "fullName": full_name}
        return self.issue_token(card_from_fields(fields, self.now()))

    def tokenize_bank(
        self,
        account_number: str,
        routing_number: str = "121042882",
        name_on_account: str = "Jane Doe",
        account_type: str = "checking",
    ) -> tuple[str, str]:
        """What Accept.dispatchData does for bankData; raises AcceptError when invalid."""
        fields = {
            "accountNumber": account_number,
            "routingNumber": routing_number,
            "nameOnAccount": name_on_account,
            "accountType": account_type,
        }
        return self.issue_token(bank_from_fields(fields))

    def redeem_token(self, descriptor: str | None, value: str | None) -> PaymentMethod | None:
        """Use up a token; None when it is unknown, expired or already used."""
        with self.lock:
            token = self.tokens.get(value or "")
            if token is None or descriptor != DESCRIPTOR or token.used:
                return None
            token.used = True
            self._unsaved = True
            if self.now() >= token.expires:
                return None
            return token.method

    # settlement

    def settle(self, now: datetime | None = None) -> list[Batch]:
        """Close a batch per payment method with everything settleable submitted by `now`."""
        moment = now or self.now()
        created: list[Batch] = []
        with self.lock:
            pending = [
                t
                for t in self.transactions.values()
                if t.batch_id is None and t.status in SETTLES_TO and t.submitted <= moment
            ]
            for method in ("creditCard", "eCheck"):
                members = [t for t in pending if _batch_method(t) == method]
                if not members:
                    continue
                batch = Batch(self.next_id("batch"), moment, method)
                for trans in members:
                    trans.status = SETTLES_TO[trans.status]
                    trans.batch_id = batch.batch_id
                    batch.trans_ids.append(trans.trans_id)
                self.batches[batch.batch_id] = batch
                created.append(batch)
        for batch in created:
            logger.info("settled batch %s (%s transactions)", batch.batch_id, len(batch.trans_ids))
        return created

    def auto_settle(self) -> list[Batch]:
        """Settle at every daily cut-off the clock has passed since the last check."""
        if self.settlement_cutoff is None:
            return []
        created: list[Batch] = []
        with self.lock:
            now = self.now()
            cutoff = datetime.combine(
                self._last_cutoff_check.date(), self.settlement_cutoff, now.tzinfo
            )
            if cutoff <= self._last_cutoff_check:
                cutoff += timedelta(days=1)
            while cutoff <= now:
                created += self.settle(cutoff)
                cutoff += timedelta(days=1)
            self._last_cutoff_check = now
        return created

    def seed_charge(
        self,
        amount: Decimal,
        invoice_number: str | None,
        declined: bool = False,
        card_number: str = "4111111111111111",
        submitted: datetime | None = None,
    ) -> Transaction:
        """Record a card authCapture as createTransaction would, without HTTP or webhooks
        (bulk data for tests and benchmarks; settle() batches it like any other)."""
        with self.lock:
            trans = Transaction(
                trans_id=self.next_id("trans"),
                transaction_type="authCaptureTransaction",
                amount=amount,
                status=models.DECLINED if declined else models.CAPTURED,
                submitted=submitted or self.now(),
                method=Card(card_number, 2030, 12, "123", "98004"),
                response_code=2 if declined else 1,
                reason_code=2 if declined else 1,
                reason_text=(
                    "This transaction has been declined."
                    if declined
                    else "This transaction has been approved."
                ),
                auth_code="" if declined else self.new_auth_code(),
                avs_code="Y",
                cvv_code="M",
                invoice_number=invoice_number,
                description="Seeded charge",
                settle_amount=Decimal("0") if declined else amount,
            )
            self.transactions[trans.trans_id] = trans
        return trans

    # lookups

    def find_transactions(self, invoice_number: str) -> list[Transaction]:
        """Every transaction carrying an invoice number (test helper)."""
        with self.lock:
            return [t for t in self.transactions.values() if t.invoice_number == invoice_number]

    def notify(self, event_type: str, trans: Transaction) -> None:
        """Queue the webhook for a transaction event."""
        payload: dict[str, Any] = {
            "responseCode": trans.response_code,
            "authCode": trans.auth_code,
            "avsResponse": trans.avs_code,
            "authAmount": trans.amount,
            "invoiceNumber": trans.invoice_number,
            "entityName": "transaction",
            "id": trans.trans_id,
        }
        self.webhooks.enqueue(event_type, self.now(), payload)

    def flush_webhooks(self, timeout: float = 5.0) -> list[Delivery]:
        """Deliver pending webhook notifications now (deterministic tests)."""
        return self.webhooks.flush(timeout)

    # the state file

    def mark_changed(self) -> None:
        """Note a change the next persist() must write (the API marks every write request)."""
        with self.lock:
            self._unsaved = True

    def open(self, path: str | Path) -> None:
        """Load a state file (if any) and keep it current from now on."""
        with self.lock:
            keeper = AnetStateFile(path)
            found = keeper.load(self)
            keeper.start(self, found)
            self._file, self._closed, self._unsaved = keeper, False, False
        logger.info("sandbox state %s in %s", "loaded" if found else "kept", path)

    def persist(self) -> None:
        """Journal what changed since mark_changed(), on disk before this returns."""
        with self.lock:
            if self._file is None:
                if self._closed:
                    raise RuntimeError("the sandbox is stopping: changes can no longer be kept")
                return
            if self._unsaved:
                self._file.append(self)
                self._unsaved = False

    def close(self) -> None:
        """Write what is left and stop keeping the state file."""
        with self.lock:
            if self._file is not None:
                self._file.close(self)
                self._file, self._closed = None, True

    def counters(self) -> dict[str, Any]:
        """The id counters and the last settlement cut-off check."""
        return {"ids": dict(self._ids), "last_cutoff_check": self._last_cutoff_check.isoformat()}

    def live_tokens(self) -> list[AcceptToken]:
        """Accept.js tokens that can still be used."""
        now = self.now()
        return [t for t in self.tokens.values() if not t.used and t.expires > now]

    def to_dict(self) -> dict[str, Any]:
        """Everything a restarted sandbox needs to carry on (no card or bank number whole)."""
        with self.lock:
            return {
                "version": 1,
                "counters": self.counters(),
                "transactions": [
                    persist.transaction_to_dict(t) for t in self.transactions.values()
                ],
                "batches": [persist.batch_to_dict(b) for b in self.batches.values()],
                "profiles": [persist.profile_to_dict(p) for p in self.profiles.values()],
                "tokens": [persist.token_to_dict(t) for t in self.live_tokens()],
            }

    def load_dict(self, data: dict[str, Any]) -> None:
        """Apply a state file's snapshot or journal record: the transactions and batches it
        holds are added or replaced; profiles and tokens, when present, replace ours."""
        with self.lock:
            counters = data["counters"]
            self._ids.update(counters["ids"])
            self._last_cutoff_check = datetime.fromisoformat(counters["last_cutoff_check"])
            for trans in map(persist.transaction_from_dict, data["transactions"]):
                self.transactions[trans.trans_id] = trans
            for batch in map(persist.batch_from_dict, data["batches"]):
                self.batches[batch.batch_id] = batch
            if "profiles" in data:
                profiles = map(persist.profile_from_dict, data["profiles"])
                self.profiles = {p.profile_id: p for p in profiles}
            if "tokens" in data:
                self.tokens = {t.value: t for t in map(persist.token_from_dict, data["tokens"])}


def _batch_method(trans: Transaction) -> str:
    """Cards and eChecks settle in separate batches."""
    return "eCheck" if isinstance(trans.method, Bank) else "creditCard"


__all__ = ["AnetState", "Card"]
