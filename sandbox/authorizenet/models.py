"""The records the sandbox keeps: Accept tokens, transactions, batches and customer profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from .cards import PaymentMethod, reported_account_type

# transactionStatus values (the gateway's spelling)
AUTHORIZED = "authorizedPendingCapture"
CAPTURED = "capturedPendingSettlement"
SETTLED = "settledSuccessfully"
VOIDED = "voided"
DECLINED = "declined"
REFUND_PENDING = "refundPendingSettlement"
REFUND_SETTLED = "refundSettledSuccessfully"
HELD = "FDSPendingReview"

# What settlement turns each status into; anything else is not batched
SETTLES_TO = {
    CAPTURED: SETTLED,
    REFUND_PENDING: REFUND_SETTLED,
    VOIDED: VOIDED,
    DECLINED: DECLINED,
}


@dataclass
class AcceptToken:
    """A one-time Accept.js payment nonce and the payment data it stands for."""

    value: str = field(repr=False)
    method: PaymentMethod
    created: datetime
    expires: datetime
    used: bool = False


@dataclass
class Transaction:
    """One gateway transaction (charges, authorizations and refunds; voids change status)."""

    trans_id: str
    transaction_type: str
    amount: Decimal
    status: str
    submitted: datetime
    method: PaymentMethod
    response_code: int
    reason_code: int
    reason_text: str
    auth_code: str = ""
    avs_code: str = "P"
    cvv_code: str = ""
    invoice_number: str | None = None
    description: str | None = None
    customer_id: str | None = None
    customer_email: str | None = None
    bill_to: dict[str, str] = field(default_factory=dict)
    profile_id: str | None = None
    payment_profile_id: str | None = None
    ref_trans_id: str | None = None
    settle_amount: Decimal = Decimal("0")
    refunded: Decimal = Decimal("0")
    batch_id: str | None = None

    @property
    def account_type(self) -> str:
        """Visa/MasterCard/... or eCheck."""
        return reported_account_type(self.method)

    @property
    def account_number(self) -> str:
        """XXXX1111."""
        return self.method.masked

    @property
    def last4(self) -> str:
        """The last four digits refunds must quote."""
        return self.method.last4


@dataclass
class Batch:
    """A settlement batch (one per payment method per cut-off)."""

    batch_id: str
    settled: datetime
    payment_method: str  # creditCard | eCheck
    trans_ids: list[str] = field(default_factory=list)
    state: str = "settledSuccessfully"


@dataclass
class PaymentProfile:
    """A saved payment method inside a customer profile."""

    payment_profile_id: str
    method: PaymentMethod
    customer_type: str | None = None
    bill_to: dict[str, str] = field(default_factory=dict)
    default: bool = False


@dataclass
class CustomerProfile:
    """A CIM customer profile."""

    profile_id: str
    merchant_customer_id: str | None
    email: str | None
    description: str | None
    payment_profiles: dict[str, PaymentProfile] = field(default_factory=dict)
    profile_type: str = "regular"
