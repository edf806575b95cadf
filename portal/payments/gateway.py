"""The card-processor interface, its records, and an in-memory fake for unit tests."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol


class Outcome(enum.StrEnum):
    """What the processor said about a charge."""

    APPROVED = "approved"
    DECLINED = "declined"
    HELD = "held"  # held for review: money is not taken yet
    UNKNOWN = "unknown"  # no answer (timeout, dropped connection): never a failure


class GatewayError(Exception):
    """The processor could not be asked or refused a non-charge request; safe to show."""


@dataclass(frozen=True)
class Token:
    """A one-time Accept.js token standing for a card or bank account."""

    descriptor: str
    value: str


@dataclass(frozen=True)
class SavedProfile:
    """A payment profile kept at the processor."""

    customer_profile_id: str
    payment_profile_id: str


@dataclass(frozen=True)
class ChargeRequest:
    """One charge: the amount, the unique key that finds it again, and how to pay."""

    amount: Decimal
    key: str  # order.invoiceNumber, unique per attempt (≤ 20 chars)
    description: str
    customer_ref: str  # our customer id, for the processor's customer.id
    email: str | None = None
    token: Token | None = None
    profile: SavedProfile | None = None
    save_method: bool = False


@dataclass(frozen=True)
class ChargeResult:
    """The processor's answer, mapped."""

    outcome: Outcome
    trans_id: str | None = None
    auth_code: str | None = None
    last4: str | None = None
    account_type: str | None = None
    message: str | None = None
    saved: SavedProfile | None = None


@dataclass(frozen=True)
class MethodDetails:
    """What can be shown of a saved method (masked)."""

    profile: SavedProfile
    kind: str  # card | bank
    brand: str
    last4: str
    expiry: str | None = None


@dataclass(frozen=True)
class ProcessorTransaction:
    """One transaction as the processor lists it (for recovery and reconciliation)."""

    trans_id: str
    key: str | None  # order.invoiceNumber: our attempt's key, when we made it
    amount: Decimal  # settleAmount as listed (a decline may list 0)
    status: str  # the processor's own status text (settledSuccessfully, declined, ...)
    outcome: Outcome  # APPROVED only for captured or settled charges
    submitted: datetime | None = None  # UTC


class PaymentGateway(Protocol):
    """What the portal needs from a card processor."""

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge once; UNKNOWN when no answer came back (never raises for that)."""
        ...

    def find(self, key: str, amount: Decimal, since: datetime) -> ChargeResult | None:
        """The attempt made with this key at or after `since` (aware UTC), if the processor
        has it (recovery after UNKNOWN); None only when the whole window has no trace of it.
        Raises GatewayError when the processor cannot be asked."""
        ...

    def transactions(self, since: datetime) -> list[ProcessorTransaction]:
        """Every transaction not yet settled plus those settled since `since` (aware UTC),
        once each. Raises GatewayError when the processor cannot be asked."""
        ...

    def method_details(self, profile: SavedProfile) -> MethodDetails:
        """Brand, last 4 and expiry of a saved method."""
        ...

    def delete_method(self, profile: SavedProfile) -> None:
        """Remove a saved method at the processor."""
        ...

    def client_key(self) -> str:
        """The public key Accept.js needs."""
        ...


_FAKE_STATUS = {
    Outcome.APPROVED: "capturedPendingSettlement",
    Outcome.DECLINED: "declined",
    Outcome.HELD: "FDSPendingReview",
}


@dataclass
class FakeGateway:
    """Approves unless told otherwise; remembers charges and declines by key; counts calls.
    Nothing ever settles here, so every attempt is listed whatever `since` says."""

    calls: int = 0
    next_outcomes: list[Outcome] = field(default_factory=list)
    charges: dict[str, ChargeResult] = field(default_factory=dict)
    declines: dict[str, ChargeResult] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)  # of charges and declines
    submitted: dict[str, datetime] = field(default_factory=dict)  # of charges and declines
    used_tokens: set[str] = field(default_factory=set)
    lose_answer: bool = False  # answer (approve or decline), then act as if it was lost
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(60000001))

    def charge(self, request: ChargeRequest) -> ChargeResult:
        self.calls += 1
        if request.token is not None:
            if request.token.value in self.used_tokens:
                return ChargeResult(Outcome.DECLINED, message="The payment token was already used.")
            self.used_tokens.add(request.token.value)
        outcome = self.next_outcomes.pop(0) if self.next_outcomes else Outcome.APPROVED
        if outcome is Outcome.UNKNOWN:
            return ChargeResult(Outcome.UNKNOWN)
        trans = str(next(self._ids))
        self.amounts[request.key] = request.amount
        self.submitted[request.key] = datetime.now(UTC)
        if outcome is Outcome.DECLINED:
            message = "This transaction has been declined."
            result = ChargeResult(Outcome.DECLINED, trans, message=message)
            self.declines[request.key] = result
        else:
            saved = SavedProfile("900100", f"800{trans}") if request.save_method else None
            result = ChargeResult(outcome, trans, "A1B2C3", "1111", "Visa", saved=saved)
            self.charges[request.key] = result
        if self.lose_answer:
            return ChargeResult(Outcome.UNKNOWN)
        return result

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
        return MethodDetails(profile, "card", "Visa", "1111", "12/2030")

    def delete_method(self, profile: SavedProfile) -> None:
        self.calls += 1

    def client_key(self) -> str:
        return "fake-public-client-key"
