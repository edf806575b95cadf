"""Notices and their deliveries: one row per notice (unique per customer, kind, subject and
period), one delivery row per channel, retried with back-off and parked when it keeps failing;
each customer's preferences; each login's phone for SMS."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, str_enum, utcnow


class Channel(enum.StrEnum):
    """How a notice reaches its reader."""

    EMAIL = "email"
    SMS = "sms"
    PORTAL = "portal"  # the notification centre (the bell); every notice is there


class DeliveryStatus(enum.StrEnum):
    """Where one delivery stands. `sent`: the channel accepted it; `delivered`: the far end
    confirmed (SMS status callback); `skipped`: nothing to send to (no address, opted out)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"  # the far end reported failure (undelivered); not retried
    PARKED = "parked"  # kept failing here; staff see it
    SKIPPED = "skipped"


class Notification(Base):
    """One notice to one customer (or one login, for security notices). `key` is
    "kind:customer-or-user:subject:period" and unique, so a job that runs twice, or two
    workers at once, make one notice."""

    __tablename__ = "notification"
    __table_args__ = (
        sa.CheckConstraint(
            "customer_id IS NOT NULL OR user_id IS NOT NULL", name="has_an_audience"
        ),
        sa.Index("ix_notification_customer_created", "customer_id", "created_at"),
        sa.Index("ix_notification_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(160), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("portal_user.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(sa.String(80))  # what it is about: "invoice:12"
    period: Mapped[str] = mapped_column(sa.String(40))  # which time of it: "due-7", "2026-11"
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)  # plain text, shown in the portal and SMS
    link: Mapped[str | None] = mapped_column(sa.String(300))  # a path in the portal
    # The rendering context, as JSON: what the e-mail templates are rendered with at delivery.
    context: Mapped[dict[str, object]] = mapped_column(sa.JSON, default=dict)
    mandatory: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="notification", order_by="Delivery.id"
    )


class Delivery(Base):
    """One notice by one channel: the outbox row the worker claims, sends and records."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        sa.UniqueConstraint("notification_id", "channel"),
        sa.Index("ix_notification_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notification.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "notification_channel", 10))
    destination: Mapped[str] = mapped_column(sa.String(254))  # e-mail address or E.164 phone
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "delivery_status", 10), default=DeliveryStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    # The channel's own id for it (Twilio's message SID, the e-mail's Message-ID).
    provider_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    notification: Mapped[Notification] = relationship(back_populates="deliveries")


class NotificationPreference(Base):
    """A customer's choice for one kind of notice: off, or by which channels ("email,sms").
    Absent means the kind's default. Mandatory kinds ignore "off"."""

    __tablename__ = "notification_preference"

    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    channels: Mapped[str] = mapped_column(sa.String(40), default="email")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StatementPreference(Base):
    """How often a customer gets a statement, and whether on paper too (paperless default)."""

    __tablename__ = "statement_preference"
    __table_args__ = (
        sa.CheckConstraint(
            "frequency IN ('monthly', 'quarterly', 'never')", name="frequency_known"
        ),
    )

    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    frequency: Mapped[str] = mapped_column(sa.String(10), default="monthly")
    paperless: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SmsContact(Base):
    """A customer's mobile number for SMS: verified by a one-time code before anything is
    sent to it; `opted_out_at` mirrors a STOP sent to our number (START clears it)."""

    __tablename__ = "sms_contact"

    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    phone: Mapped[str] = mapped_column(sa.String(20), index=True)  # E.164
    verified_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]
    code_hash: Mapped[str | None] = mapped_column(sa.String(64))
    code_expires_at: Mapped[datetime | None]
    code_attempts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NotificationSetting(Base):
    """What an admin decided about notices: one row at most; absent means the defaults."""

    __tablename__ = "notification_setting"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, default=1)
    # QuickBooks already e-mails invoices: the portal's "new invoice" notice is not sent.
    skip_new_invoice: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
