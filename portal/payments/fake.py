"""An in-memory PaymentGateway for tests, kept to the Authorize.Net adapter's behaviour by
tests/contract/test_gateway_contract.py."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from portal.payments.gateway import (
    ChargeRequest,
    ChargeResult,
    GatewayError,
    MethodDetails,
    Outcome,
    ProcessorTransaction,
    SavedProfile,
)

_FAKE_STATUS = {
    Outcome.APPROVED: "capturedPendingSettlement",
    Outcome.DECLINED: "declined",
    Outcome.HELD: "FDSPendingReview",
}
MAX_KEY = 20  # order.invoiceNumber; the SDK refuses a longer one before sending
# What the Authorize.Net adapter answers when the processor refuses before any transaction.
TOKEN_REFUSED = "Your card details expired before they were sent. Enter them again."  # noqa: S105
NO_AMOUNT = "A valid amount is required."
NO_PROFILE = "Customer Profile ID or Customer Payment Profile ID not found."
DUPLICATE = "duplicate of an earlier attempt"


@dataclass
class FakeGateway:
    """Approves unless told otherwise; remembers charges and declines by key; counts calls.
    Nothing ever settles here, so every attempt is listed whatever `since` says. Every token
    and saved method stands for Visa 4111 1111 1111 1111, expiring 12/2030."""

    calls: int = 0
    next_outcomes: list[Outcome] = field(default_factory=list)
    charges: dict[str, ChargeResult] = field(default_factory=dict)
    declines: dict[str, ChargeResult] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)  # of charges and declines
    submitted: dict[str, datetime] = field(default_factory=dict)  # of charges and declines
    used_tokens: set[str] = field(default_factory=set)
    lose_answer: bool = False  # answer (approve or decline), then act as if it was lost
    duplicate_window: timedelta = timedelta(seconds=120)  # the adapter's default
    # customer profile id → (customer_ref, email): one profile per customer, as the processor
    customer_profiles: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    saved_methods: set[SavedProfile] = field(default_factory=set)
    # key → (when, amount, customer_ref) of each attempt that made a transaction
    _attempts: dict[str, list[tuple[datetime, Decimal, str]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(60000001))
    _profile_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(900100))

    def charge(self, request: ChargeRequest) -> ChargeResult:
        if len(request.key) > MAX_KEY:
            raise ValueError(f"the key {request.key!r} is over {MAX_KEY} characters")
        self.calls += 1
        refused = self._refused(request)
        if refused is not None:
            return refused
        if self._duplicate(request):
            return ChargeResult(Outcome.UNKNOWN, message=DUPLICATE)
        outcome = self.next_outcomes.pop(0) if self.next_outcomes else Outcome.APPROVED
        if outcome is Outcome.UNKNOWN:
            return ChargeResult(Outcome.UNKNOWN)
        trans = str(next(self._ids))
        now = datetime.now(UTC)
        self.amounts[request.key] = request.amount
        self.submitted[request.key] = now
        self._attempts.setdefault(request.key, []).append(
            (now, request.amount, request.customer_ref)
        )
        if outcome is Outcome.DECLINED:
            message = "This transaction has been declined."
            result = ChargeResult(Outcome.DECLINED, trans, message=message)
            self.declines[request.key] = result
        else:
            saved = self._save(request) if request.save_method else None
            held = "Held for review." if outcome is Outcome.HELD else None
            result = ChargeResult(outcome, trans, "A1B2C3", "1111", "Visa", held, saved)
            self.charges[request.key] = result
        if self.lose_answer:
            return ChargeResult(Outcome.UNKNOWN)
        return result

    def _refused(self, request: ChargeRequest) -> ChargeResult | None:
        """Refused before any transaction is made, as the processor refuses it."""
        if request.amount <= 0:
            return ChargeResult(Outcome.DECLINED, "0", message=NO_AMOUNT)  # error replies say 0
        if request.token is not None:
            if request.token.value in self.used_tokens:
                return ChargeResult(Outcome.DECLINED, message=TOKEN_REFUSED)
            self.used_tokens.add(request.token.value)
        elif request.profile is not None and request.profile not in self.saved_methods:
            return ChargeResult(Outcome.DECLINED, message=NO_PROFILE)
        return None

    def _duplicate(self, request: ChargeRequest) -> bool:
        """The same key, amount and customer within the duplicate window (error 11)."""
        since = datetime.now(UTC) - self.duplicate_window
        return any(
            at >= since and (amount, customer) == (request.amount, request.customer_ref)
            for at, amount, customer in self._attempts.get(request.key, [])
        )

    def _save(self, request: ChargeRequest) -> SavedProfile | None:
        """A new customer profile with this method; None when the customer (by id or e-mail)
        has one already (E00039): the charge stands, the method is not saved."""
        email = (request.email or "").lower() or None
        for ref, known in self.customer_profiles.values():
            if ref == request.customer_ref or (email and known == email):
                return None
        customer_profile = str(next(self._profile_ids))
        self.customer_profiles[customer_profile] = (request.customer_ref, email)
        saved = SavedProfile(customer_profile, f"8{customer_profile}")
        self.saved_methods.add(saved)
        return saved

    def find(self, key: str, amount: Decimal, since: datetime) -> ChargeResult | None:
        self.calls += 1
        if key in self.declines:  # a decline lists no settled amount: the key alone matches
            return self.declines[key]
        found = self.charges.get(key)
        return found if found and self.amounts[key] == amount else None

    def transactions(self, since: datetime) -> list[ProcessorTransaction]:
        self.calls += 1
        listed = []
        for key, result in [*self.charges.items(), *self.declines.items()]:
            declined = result.outcome is Outcome.DECLINED
            listed.append(
                ProcessorTransaction(
                    trans_id=result.trans_id or "",
                    key=key,
                    amount=Decimal("0") if declined else self.amounts[key],
                    status=_FAKE_STATUS[result.outcome],
                    outcome=result.outcome,
                    submitted=self.submitted.get(key),
                )
            )
        return sorted(listed, key=lambda t: t.trans_id)

    def method_details(self, profile: SavedProfile) -> MethodDetails:
        self.calls += 1
        if profile not in self.saved_methods:
            raise GatewayError("Authorize.Net no longer has that payment method.")
        return MethodDetails(profile, "card", "Visa", "1111", "12/2030")

    def delete_method(self, profile: SavedProfile) -> None:
        self.calls += 1
        self.saved_methods.discard(profile)  # already gone is fine

    def client_key(self) -> str:
        return "fake-public-client-key"
