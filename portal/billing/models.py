"""Mirrored QuickBooks records: customers, invoices and their lines, keyed by realm + QBO Id."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow


class Mirrored:
    """The columns of every row mirrored from QuickBooks (unique per realm + QBO Id)."""

    realm_id: Mapped[str] = mapped_column(sa.String(32))
    qbo_id: Mapped[str] = mapped_column(sa.String(32))
    sync_token: Mapped[str] = mapped_column(sa.String(16), default="0")
    qbo_updated_at: Mapped[datetime | None]
    mirrored_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Customer(Mirrored, Base):
    """A QuickBooks customer as last mirrored."""

    __tablename__ = "customer"
    __table_args__ = (sa.UniqueConstraint("realm_id", "qbo_id", name="uq_customer_realm_qbo"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(500))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(64))
    bill_line1: Mapped[str | None] = mapped_column(sa.String(500))
    bill_city: Mapped[str | None] = mapped_column(sa.String(255))
    bill_region: Mapped[str | None] = mapped_column(sa.String(255))
    bill_postal_code: Mapped[str | None] = mapped_column(sa.String(30))
    balance: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    active: Mapped[bool] = mapped_column(default=True)
    # The rest of the details people edit on /account/details (QuickBooks' own lengths).
    company_name: Mapped[str | None] = mapped_column(sa.String(100))
    bill_line2: Mapped[str | None] = mapped_column(sa.String(500))
    bill_country: Mapped[str | None] = mapped_column(sa.String(255))
    # The service address: QuickBooks' ShipAddr (each location, a sub-customer, has its own).
    ship_line1: Mapped[str | None] = mapped_column(sa.String(500))
    ship_line2: Mapped[str | None] = mapped_column(sa.String(500))
    ship_city: Mapped[str | None] = mapped_column(sa.String(255))
    ship_region: Mapped[str | None] = mapped_column(sa.String(255))
    ship_postal_code: Mapped[str | None] = mapped_column(sa.String(30))
    ship_country: Mapped[str | None] = mapped_column(sa.String(255))
    # A sub-customer (a service location, a job): its parent in QuickBooks (ParentRef), kept
    # by QuickBooks Id too, so a child mirrored before its parent is linked once it arrives.
    parent_qbo_id: Mapped[str | None] = mapped_column(sa.String(32))
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    # Billed with the parent: its invoices belong to the parent's account (see
    # portal.billing.service.account_customer_ids); else it is an account of its own.
    bill_with_parent: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    level: Mapped[int] = mapped_column(default=0, server_default="0")
    # The name the customer gives the location in the portal (never written to QuickBooks).
    location_name: Mapped[str | None] = mapped_column(sa.String(100))

    invoices: Mapped[list[Invoice]] = relationship(back_populates="customer")

    @property
    def shown_name(self) -> str:
        """The customer's own name for a location when they gave one, else QuickBooks'."""
        return self.location_name or self.display_name


class Invoice(Mirrored, Base):
    """A QuickBooks invoice as last mirrored."""

    __tablename__ = "invoice"
    __table_args__ = (
        sa.UniqueConstraint("realm_id", "qbo_id", name="uq_invoice_realm_qbo"),
        sa.CheckConstraint("balance >= 0", name="balance_not_negative"),
        sa.Index("ix_invoice_customer_due", "customer_id", "due_date"),
        # The dashboard's recent activity and monthly chart read by customer and date.
        sa.Index("ix_invoice_customer_txn", "customer_id", "txn_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customer.id", ondelete="CASCADE"))
    doc_number: Mapped[str | None] = mapped_column(sa.String(21))
    txn_date: Mapped[date]
    due_date: Mapped[date | None]
    total_amt: Mapped[Decimal]
    # What the customer owes now: QuickBooks' balance (qbo_balance) with the portal's
    # payments, credits and fees that QuickBooks does not show yet (see sync.overlay).
    balance: Mapped[Decimal]
    qbo_balance: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    email_status: Mapped[str | None] = mapped_column(sa.String(20))
    voided: Mapped[bool] = mapped_column(default=False)
    # QuickBooks deleted it: kept (payments may point at it) but never shown as owed.
    deleted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    customer: Mapped[Customer] = relationship(back_populates="invoices")
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.position"
    )

    @property
    def is_open(self) -> bool:
        """Whether anything is still owed on it."""
        return not self.voided and not self.deleted and self.balance > 0


class InvoiceLine(Base):
    """One sales line of a mirrored invoice."""

    __tablename__ = "invoice_line"
    __table_args__ = (sa.UniqueConstraint("invoice_id", "position", name="uq_invoice_line_pos"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id", ondelete="CASCADE"))
    position: Mapped[int]
    qbo_line_id: Mapped[str | None] = mapped_column(sa.String(32))
    detail_type: Mapped[str] = mapped_column(sa.String(40), default="SalesItemLineDetail")
    item_ref: Mapped[str | None] = mapped_column(sa.String(32))
    item_name: Mapped[str | None] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.String(4000))
    qty: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 4))
    unit_price: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 4))
    amount: Mapped[Decimal]

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class ReceivedPayment(Mirrored, Base):
    """A QuickBooks Payment as last mirrored (whoever recorded it: the portal or the office)."""

    __tablename__ = "received_payment"
    __table_args__ = (
        sa.UniqueConstraint("realm_id", "qbo_id", name="uq_received_payment_realm_qbo"),
        sa.Index("ix_received_payment_customer_txn", "customer_id", "txn_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    txn_date: Mapped[date]
    total_amt: Mapped[Decimal]
    unapplied_amt: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    reference: Mapped[str | None] = mapped_column(sa.String(64))
    deleted: Mapped[bool] = mapped_column(default=False)

    applications: Mapped[list[PaymentApplication]] = relationship(
        back_populates="payment", cascade="all, delete-orphan"
    )


class PaymentApplication(Base):
    """The part of a received payment applied to one invoice or credit memo."""

    __tablename__ = "payment_application"
    __table_args__ = (sa.Index("ix_payment_application_txn", "txn_type", "txn_qbo_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("received_payment.id", ondelete="CASCADE"), index=True
    )
    txn_type: Mapped[str] = mapped_column(sa.String(20))
    txn_qbo_id: Mapped[str] = mapped_column(sa.String(32))
    amount: Mapped[Decimal]

    payment: Mapped[ReceivedPayment] = relationship(back_populates="applications")


class CreditMemo(Mirrored, Base):
    """A QuickBooks credit memo as last mirrored."""

    __tablename__ = "credit_memo"
    __table_args__ = (sa.UniqueConstraint("realm_id", "qbo_id", name="uq_credit_memo_realm_qbo"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    doc_number: Mapped[str | None] = mapped_column(sa.String(21))
    txn_date: Mapped[date]
    total_amt: Mapped[Decimal]
    balance: Mapped[Decimal]
    deleted: Mapped[bool] = mapped_column(default=False)


class CatalogItem(Mirrored, Base):
    """A product or service from the QuickBooks item list."""

    __tablename__ = "catalog_item"
    __table_args__ = (sa.UniqueConstraint("realm_id", "qbo_id", name="uq_catalog_item_realm_qbo"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    type: Mapped[str] = mapped_column(sa.String(20), default="Service")
    description: Mapped[str | None] = mapped_column(sa.String(4000))
    unit_price: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 4))
    active: Mapped[bool] = mapped_column(default=True)
