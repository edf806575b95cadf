"""Money events, worded once: payment methods, autopay, schedules, plans, payments, credits.
Each records in the caller's transaction; none keeps a card or bank number (brand and last
four only, as receipts show them)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from portal.audit.actions import Action
from portal.audit.service import SYSTEM, Actor, Person, as_person, record
from portal.formatting import money

if TYPE_CHECKING:
    from portal.autopay.models import AutopayEnrollment, PaymentPlan, ScheduledPayment
    from portal.payments.models import Payment, SavedMethod


def _method(method: SavedMethod) -> str:
    return f"{method.brand} ending in {method.last4}"


def method_added(s: Session, actor: Actor, method: SavedMethod) -> None:
    record(
        s,
        Action.METHOD_ADDED,
        customer_id=method.customer_id,
        actor=actor,
        summary=f"Saved {_method(method)}",
        after={"method": _method(method), "expiry": method.expiry},
    )


def method_removed(s: Session, actor: Actor, method: SavedMethod) -> None:
    record(
        s,
        Action.METHOD_REMOVED,
        customer_id=method.customer_id,
        actor=actor,
        summary=f"Removed {_method(method)}",
        before={"method": _method(method), "expiry": method.expiry},
    )


def method_default(s: Session, actor: Actor, method: SavedMethod) -> None:
    record(
        s,
        Action.METHOD_DEFAULT,
        customer_id=method.customer_id,
        actor=actor,
        summary=f"{_method(method)} is the default",
        after={"default": _method(method)},
    )


def autopay_on(s: Session, actor: Actor, enrollment: AutopayEnrollment) -> None:
    days = enrollment.days_before
    when = "on the due date" if days == 0 else f"{days} day{'' if days == 1 else 's'} before"
    cap = f", at most {money(enrollment.max_amount)}" if enrollment.max_amount else ""
    record(
        s,
        Action.AUTOPAY_ENROLLED,
        customer_id=enrollment.customer_id,
        actor=actor,
        summary=f"Autopay on: {when}{cap} (consent: {enrollment.consent_via.value})",
        after={
            "method_id": enrollment.saved_method_id,
            "days_before": days,
            "max_amount": enrollment.max_amount,
        },
    )


def autopay_off(s: Session, actor: Actor, customer_id: int, why: str = "") -> None:
    summary = f"Autopay off{': ' + why if why else ''}"
    record(s, Action.AUTOPAY_CANCELLED, customer_id=customer_id, actor=actor, summary=summary)


def scheduled(s: Session, actor: Actor, planned: ScheduledPayment) -> None:
    total = sum((line.amount for line in planned.lines), Decimal(0))
    record(
        s,
        Action.SCHEDULE_MADE,
        customer_id=planned.customer_id,
        actor=actor,
        summary=f"Payment of {money(total)} scheduled for {planned.run_on.isoformat()}",
        after={"run_on": planned.run_on, "total": total, "schedule_id": planned.id},
    )


def schedule_cancelled(s: Session, actor: Actor, customer_id: int, schedule_id: int) -> None:
    record(
        s,
        Action.SCHEDULE_CANCELLED,
        customer_id=customer_id,
        actor=actor,
        summary=f"Scheduled payment #{schedule_id} cancelled",
    )


def plan_made(s: Session, actor: Actor, plan: PaymentPlan) -> None:
    count = len(plan.installments)
    record(
        s,
        Action.PLAN_CREATED,
        customer_id=plan.customer_id,
        actor=actor,
        summary=f"Payment plan: {money(plan.total)} in {count} installments",
        after={"total": plan.total, "installments": count, "plan_id": plan.id},
    )


def payment_made(s: Session, payment: Payment, payer: Person | None) -> None:
    """A payment that succeeded: in the payer's name (from the address the payment was made
    from), or the system's (autopay, schedules, plans)."""
    who = as_person(payer, payment.client_address or "") if payer is not None else SYSTEM
    docs = ", ".join(a.doc_number or a.invoice_qbo_id for a in payment.allocations)
    record(
        s,
        Action.PAYMENT_MADE,
        customer_id=payment.customer_id,
        actor=who,
        summary=f"Paid {money(payment.total)} on invoice{'s' if ',' in docs else ''} {docs}",
        after={
            "amount": payment.total,
            "invoices": {a.doc_number or a.invoice_qbo_id: a.amount for a in payment.allocations},
            "payment_id": payment.id,
        },
    )


def credit_applied(
    s: Session, actor: Actor, customer_id: int, doc_number: str, amount: Decimal, reason: str
) -> None:
    record(
        s,
        Action.CREDIT_APPLIED,
        customer_id=customer_id,
        actor=actor,
        summary=f"Credit of {money(amount)} on invoice {doc_number}: {reason}"[:500],
        after={"invoice": doc_number, "amount": amount, "reason": reason},
    )


def invitation_sent(s: Session, actor: Actor, customer_id: int, email: str) -> None:
    record(
        s,
        Action.INVITATION_SENT,
        customer_id=customer_id,
        actor=actor,
        summary=f"Invitation to create a login sent to {email}",
        after={"email": email},
    )


def settings_changed(
    s: Session,
    action: Action,
    actor: Actor,
    customer_id: int | None,
    what: str,
    before: dict[str, object],
    after: dict[str, object],
) -> None:
    """Choices saved (notifications, display): the fields that changed, before and after;
    nothing when none did."""
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if not keys:
        return
    record(
        s,
        action,
        customer_id=customer_id,
        actor=actor,
        summary=f"{what} changed: {', '.join(keys)}"[:500],
        before={k: before.get(k) for k in keys},
        after={k: after.get(k) for k in keys},
    )


def flat(choices: object) -> dict[str, object]:
    """A dataclass of choices as one level of plain values (for settings_changed)."""
    out: dict[str, object] = {}
    for name, value in vars(choices).items():
        if isinstance(value, dict):
            out.update({f"{name}.{k}": v for k, v in value.items()})
        elif isinstance(value, tuple | frozenset | set | list):
            out[name] = ",".join(sorted(value) if isinstance(value, frozenset | set) else value)
        else:
            out[name] = value
    return out
