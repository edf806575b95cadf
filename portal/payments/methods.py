"""Saved methods: adding one without paying, what may not be removed, when a card expires,
and the e-mail before a card that autopay or a schedule uses runs out."""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.billing.models import Customer
from portal.clock import app_today, clock_of
from portal.db import commit
from portal.notifications.jobs import quiet_hours
from portal.notifications.service import Draft, notify_many
from portal.payments import service
from portal.payments.gateway import (
    GatewayError,
    MethodDetails,
    MethodOwner,
    PaymentGateway,
    Token,
    Validation,
)
from portal.payments.models import MethodKind, SavedMethod

logger = logging.getLogger(__name__)

SOON = timedelta(days=60)  # "Expires soon" on the methods page
NOTICE_BEFORE = timedelta(days=30)  # the e-mail before a card in use runs out
InUse = Callable[[Session, int], str | None]


class MethodNotAdded(ValueError):
    """The processor would not keep the method; the message is for the customer."""


def in_use(s: Session, method_id: int) -> str | None:
    """Why the method may not be removed (autopay, a scheduled payment or a plan charges it),
    or None."""
    from portal.autopay.service import uses_method  # autopay is built on payments: asked late

    return uses_method(s, method_id)


def last_day(expiry: str | None) -> date | None:
    """The last day a card expiring MM/YYYY is good; None for a bank account or nonsense."""
    month, _, year = (expiry or "").partition("/")
    if not (month.isdigit() and year.isdigit() and 1 <= int(month) <= 12 and len(year) == 4):
        return None
    return date(int(year), int(month), calendar.monthrange(int(year), int(month))[1])


def expiry_state(expiry: str | None, today: date) -> str | None:
    """ "expired", "soon" (within 60 days) or None."""
    end = last_day(expiry)
    if end is None:
        return None
    if end < today:
        return "expired"
    return "soon" if end - today <= SOON else None


def add(
    sessions: sessionmaker[Session],
    gateway: PaymentGateway,
    customer_id: int,
    user_id: int | None,
    token: Token,
    kind: MethodKind,
    validation: Validation,
) -> SavedMethod:
    """Keep a card or bank account given as an Accept.js token, once the processor's check
    passes, in the customer's one profile; the processor is asked outside any transaction."""
    with sessions() as s:
        customer = s.get(Customer, customer_id)
        owner = MethodOwner(
            str(customer_id),
            customer.email if customer is not None else None,
            service.profile_of(s, customer_id),
        )
    try:
        profile = gateway.add_method(owner, token, validation)
    except GatewayError as exc:
        raise MethodNotAdded(str(exc)) from exc
    try:
        details = gateway.method_details(profile)
    except GatewayError as exc:  # kept all the same; described as well as we can
        logger.warning("could not describe an added method: %s", exc)
        label = "Bank account" if kind is MethodKind.BANK else "Card"
        details = MethodDetails(profile, kind.value, label, "????")
    with sessions() as s:
        method = service.keep_method(s, customer_id, user_id, details)
        commit(s)
        s.refresh(method)
        s.expunge(method)
    return method


def expiring_notices(app: Flask, used: InUse = in_use) -> int:
    """Once per card and expiry, 30 days before the card's expiry month ends, tell the
    customer when autopay or a schedule charges it (`used` says which do); how many new."""
    sessions = app.extensions["portal.db"].sessions
    with sessions() as s:
        today = app_today(app, s)
        drafts = []
        rows = s.execute(
            sa.select(SavedMethod.id, SavedMethod.customer_id, SavedMethod.brand,
                      SavedMethod.last4, SavedMethod.expiry)
            .where(SavedMethod.kind == MethodKind.CARD, SavedMethod.expiry.is_not(None))
            .order_by(SavedMethod.id)
        ).all()  # fmt: skip
        for method_id, customer_id, brand, last4, expiry in rows:
            end = last_day(expiry)
            if end is None or not (end - NOTICE_BEFORE <= today <= end):
                continue
            reason = used(s, method_id)
            if reason is not None:
                drafts.append(_expiring(method_id, customer_id, brand, last4, expiry, reason))
        made = notify_many(s, drafts, quiet=quiet_hours(app, s), now=clock_of(app)())
        s.commit()
    if made:
        logger.info("card expiry: %s new notices", len(made))
    return len(made)


def _expiring(
    method_id: int, customer_id: int, brand: str, last4: str, expiry: str, reason: str
) -> Draft:
    named = f"{brand} ending in {last4}"
    return Draft(
        kind="card_expiring",
        subject=f"method:{method_id}",
        period=expiry,
        title=f"Your {named} expires at the end of {expiry}",
        body=(
            f"Your saved {named} expires at the end of {expiry}. {reason} "
            "To keep paying without interruption, add a new card on your payment methods "
            "page and choose it instead."
        ),
        customer_id=customer_id,
        link="/payment-methods",
        context={"button": "Update your payment method"},
    )
