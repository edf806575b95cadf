"""The notices autopay, scheduled payments and plans send, written in the unit of work of
the fact that causes them (at most once each, by key)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.models import PortalUser, Role
from portal.billing.models import Customer, Invoice
from portal.formatting import money
from portal.notifications.service import Draft, notify, notify_many
from portal.payments.models import SavedMethod

METHODS_LINK = "/payment-methods"  # where a method is added or changed
AUTOPAY_LINK = "/autopay"


def _method(s: Session, method_id: int | None) -> str:
    saved = s.get(SavedMethod, method_id) if method_id is not None else None
    return f"{saved.brand} ending {saved.last4}" if saved is not None else "your saved method"


def _docs(s: Session, amounts: dict[int, Decimal]) -> str:
    rows = s.execute(
        sa.select(Invoice.id, Invoice.doc_number, Invoice.qbo_id).where(
            Invoice.id.in_(list(amounts))
        )
    )
    names = {i: doc or qbo for i, doc, qbo in rows}
    return "\n".join(f"- invoice {names.get(i, i)}: {money(a)}" for i, a in amounts.items())


def upcoming(
    s: Session,
    kind: str,
    customer_id: int,
    subject: str,
    on: date,
    amounts: dict[int, Decimal],
    method_id: int | None,
    skip_links: bool,
) -> None:
    """What will be charged, when, with which method, and how to skip it."""
    total = sum(amounts.values(), Decimal(0))
    how = (
        "To skip an invoice (you will pay it another way), follow its link:\n"
        + "\n".join(f"- /autopay/skip/{i}" for i in amounts)
        if skip_links
        else "To cancel it, open your scheduled payments: /autopay"
    )
    notify(
        s,
        kind,
        customer_id=customer_id,
        subject=subject,
        period="upcoming",
        title=f"{money(total)} will be charged on {on:%B %-d, %Y}",
        body=(
            f"On {on:%B %-d, %Y} we will charge {money(total)} to {_method(s, method_id)}:\n"
            f"{_docs(s, amounts)}\n\n{how}"
        ),
        link="/autopay",
        context={"button": "See autopay"},
    )


def over_limit(
    s: Session, customer_id: int, subject: str, amounts: dict[int, Decimal], limit: Decimal
) -> None:
    """Above the customer's maximum per charge: ask them to pay by hand."""
    total = sum(amounts.values(), Decimal(0))
    notify(
        s,
        "autopay_over_limit",
        customer_id=customer_id,
        subject=subject,
        period="ask",
        title="Please pay these invoices yourself",
        body=(
            f"Autopay did not charge {money(total)} because it is more than your maximum of "
            f"{money(limit)} per charge:\n{_docs(s, amounts)}\n\nPlease pay them on the portal."
        ),
        link="/pay",
        context={"button": "Pay now"},
    )


def charge_failed(
    s: Session, customer_id: int, subject: str, attempt: int, reason: str, retry_on: date | None
) -> None:
    """Each failure: your payment failed — update your method."""
    then = (
        f"We will try again on {retry_on:%B %-d, %Y}."
        if retry_on is not None
        else "We will not try again."
    )
    notify(
        s,
        "autopay_failed",
        customer_id=customer_id,
        subject=subject,
        period=f"failed-{attempt}",
        title="Your payment failed — update your method",
        body=f"Your automatic payment failed: {reason}\n{then}\nUpdate your payment method: "
        f"{METHODS_LINK}",
        link=METHODS_LINK,
        context={"button": "Update your method"},
    )


def paused(s: Session, customer_id: int, subject: str, what: str) -> None:
    """After the last try: the customer and every admin are told."""
    customer = s.get(Customer, customer_id)
    name = customer.display_name if customer is not None else f"#{customer_id}"
    drafts = [
        Draft(
            kind="autopay_paused",
            subject=subject,
            period="paused",
            title=f"{what} is paused",
            body=f"{what} is paused after the last retry failed. Pay your invoices on the "
            "portal, or update your method and turn it on again.",
            customer_id=customer_id,
            link=AUTOPAY_LINK,
            context={"button": "See autopay"},
        )
    ]
    admins = s.scalars(
        sa.select(PortalUser.id).where(PortalUser.role == Role.ADMIN, PortalUser.active)
    )
    drafts += [
        Draft(
            kind="autopay_paused",
            subject=subject,
            period="paused-staff",
            title=f"{what} of {name} is paused",
            body=f"{what} of {name} is paused: every retry failed. The overdue ladder takes "
            "its course.",
            user_id=admin_id,
            link=f"/admin/customers/{customer_id}/autopay",
            context={"button": "See the customer's autopay"},
        )
        for admin_id in admins
    ]
    notify_many(s, drafts)
