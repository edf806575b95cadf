"""Portal payments: the frozen allocation, the state machine, saved methods."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, str_enum, utcnow


class PaymentState(enum.StrEnum):
    """Where a portal payment stands."""

    INIT = "init"  # allocation frozen, nothing sent to the card processor yet
    PENDING = "pending"  # the charge request is (or may be) on its way
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    UNKNOWN = "unknown"  # no answer: recovery asks the processor what happened


# The only moves a payment may make; anything else is a bug and raises.
TRANSITIONS: dict[PaymentState, frozenset[PaymentState]] = {
    PaymentState.INIT: frozenset({PaymentState.PENDING, PaymentState.DECLINED}),
    PaymentState.PENDING: frozenset(
        {PaymentState.SUCCEEDED, PaymentState.DECLINED, PaymentState.UNKNOWN}
    ),
    PaymentState.UNKNOWN: frozenset({PaymentState.SUCCEEDED, PaymentState.DECLINED}),
    PaymentState.SUCCEEDED: frozenset(),
    PaymentState.DECLINED: frozenset(),
}

# States whose money may still be taken: their allocations count against invoice balances.
IN_FLIGHT = (PaymentState.INIT, PaymentState.PENDING, PaymentState.UNKNOWN)


class IllegalTransition(RuntimeError):
    """A payment was asked to move where the transition table does not allow."""


class MethodKind(enum.StrEnum):
    """How the customer pays."""

    CARD = "card"
    BANK = "bank"


class Payment(Base):
    """One customer payment: one charge, one gateway transaction, one QuickBooks Payment."""

    __tablename__ = "portal_payment"
    __table_args__ = (
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_payment_idempotency"),
        sa.CheckConstraint("total > 0", name="total_positive"),
        sa.Index("ix_portal_payment_address_created", "client_address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="RESTRICT"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
    idempotency_key: Mapped[str] = mapped_column(sa.String(64))
    # Sent to the processor as order.invoiceNumber (≤ 20 chars): finds the attempt after a timeout.
    gateway_key: Mapped[str] = mapped_column(sa.String(20), unique=True)
    state: Mapped[PaymentState] = mapped_column(
        str_enum(PaymentState, "payment_state"), default=PaymentState.INIT
    )
    total: Mapped[Decimal]
    method_kind: Mapped[MethodKind] = mapped_column(str_enum(MethodKind, "method_kind", 8))
    saved_method_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("saved_method.id", ondelete="SET NULL")
    )
    save_method: Mapped[bool] = mapped_column(default=False)
    gateway_trans_id: Mapped[str | None] = mapped_column(sa.String(40))
    auth_code: Mapped[str | None] = mapped_column(sa.String(12))
    account_last4: Mapped[str | None] = mapped_column(sa.String(4))
    account_type: Mapped[str | None] = mapped_column(sa.String(30))
    decline_reason: Mapped[str | None] = mapped_column(sa.String(300))
    qbo_payment_id: Mapped[str | None] = mapped_column(sa.String(32))
    # Set when QuickBooks could not take the payment as allocated (e.g. an invoice was paid
    # there in the meantime): what was done instead, for the bookkeeper.
    review_note: Mapped[str | None] = mapped_column(sa.String(500))
    # Where the attempt came from (the customer's browser), for the per-address decline limit.
    client_address: Mapped[str | None] = mapped_column(sa.String(45))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    charged_at: Mapped[datetime | None]

    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", cascade="all, delete-orphan", order_by="PaymentAllocation.id"
    )

    def check_move(self, new: PaymentState) -> None:
        """Raise IllegalTransition unless the transition table allows state → new."""
        if new not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"payment {self.id}: {self.state} → {new} is not allowed")

    def move_to(self, new: PaymentState) -> None:
        """Change state along the transition table, or raise IllegalTransition."""
        self.check_move(new)
        self.state = new


class PaymentAllocation(Base):
    """How much of a payment goes to one invoice, frozen before the charge."""

    __tablename__ = "payment_allocation"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.UniqueConstraint("payment_id", "invoice_id", name="uq_allocation_invoice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portal_payment.id", ondelete="CASCADE"), index=True
    )
    invoice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invoice.id", ondelete="RESTRICT"), index=True
    )
    invoice_qbo_id: Mapped[str] = mapped_column(sa.String(32))
    doc_number: Mapped[str | None] = mapped_column(sa.String(21))
    amount: Mapped[Decimal]

    payment: Mapped[Payment] = relationship(back_populates="allocations")


class SavedMethod(Base):
    """A card or bank account kept at the processor (a payment profile); no numbers here."""

    __tablename__ = "saved_method"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    gateway_customer_profile_id: Mapped[str] = mapped_column(sa.String(40))
    gateway_payment_profile_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    kind: Mapped[MethodKind] = mapped_column(str_enum(MethodKind, "method_kind", 8))
    brand: Mapped[str] = mapped_column(sa.String(30))
    last4: Mapped[str] = mapped_column(sa.String(4))
    expiry: Mapped[str | None] = mapped_column(sa.String(7))  # MM/YYYY for cards
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The login that saved it: a person with "pay" access sees and uses only their own.
    added_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
