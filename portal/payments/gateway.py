"""The card-processor interface and the records that cross it (the fake is in fake.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
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
class MethodOwner:
    """Whose method is kept: our customer id and e-mail, and the customer's profile at the
    processor when we know it (one profile per customer holds all their methods)."""

    customer_ref: str
    email: str | None = None
    customer_profile_id: str | None = None


class Validation(enum.StrEnum):
    """How the processor checks a method before keeping it (validationMode)."""

    TEST = "testMode"  # a $0.00 authorization
    LIVE = "liveMode"  # a $0.01 authorization, voided


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

    def save_from_charge(self, owner: MethodOwner, trans_id: str) -> SavedProfile:
        """Keep the method an approved charge used, in the owner's profile (made when they
        have none; never a second one). A method kept already comes back as the one kept.
        Raises GatewayError (safe to show) when it cannot be kept."""
        ...

    def add_method(self, owner: MethodOwner, token: Token, validation: Validation) -> SavedProfile:
        """Keep a card or bank account given as a one-time token, once the processor's check
        passes, in the owner's profile (made when they have none). A method kept already comes
        back as the one kept. Raises GatewayError (safe to show): declined, token expired."""
        ...

    def delete_method(self, profile: SavedProfile) -> None:
        """Remove a saved method at the processor."""
        ...

    def client_key(self) -> str:
        """The public key Accept.js needs."""
        ...
