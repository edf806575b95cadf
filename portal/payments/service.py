"""Paying invoices: validate and freeze the allocation, charge once, record the outcome."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import render_template
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from portal import outbox
from portal.accounts import alerts
from portal.accounts.models import PortalUser
from portal.audit import events
from portal.audit.service import SYSTEM
from portal.audit.web import actor
from portal.billing.locations import family_of
from portal.billing.models import Customer, Invoice
from portal.branding import brand
from portal.db import commit, utcnow
from portal.formatting import clock_time, day, money
from portal.notifications.service import notify
from portal.payments import velocity
from portal.payments.gateway import (
    ChargeRequest,
    ChargeResult,
    GatewayError,
    MethodDetails,
    MethodOwner,
    Outcome,
    PaymentGateway,
    SavedProfile,
    Token,
)
from portal.payments.models import (
    IN_FLIGHT,
    TRANSITIONS,
    MethodKind,
    Payment,
    PaymentAllocation,
    PaymentState,
    SavedMethod,
)
from portal.payments.velocity import Attempt

logger = logging.getLogger(__name__)

AMOUNT_RE = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
CENT = Decimal("0.01")
# A PENDING payment this old lost its process between charge and commit: recovery asks.
STALE_PENDING = timedelta(minutes=2)
# With no trace at the processor after this long, an UNKNOWN attempt is flagged for staff
# (never declared "not charged": only the processor's word settles it).
GIVE_UP_AFTER = timedelta(minutes=30)


class PaymentRefused(ValueError):
    """The request cannot be paid as asked; the message is for the customer, and
    `invoice_id` names the invoice whose amount is wrong (when one is)."""

    def __init__(self, message: str, invoice_id: int | None = None) -> None:
        super().__init__(message)
        self.invoice_id = invoice_id


class TooManyDeclines(PaymentRefused):
    """Too many payments were declined lately (card testing?): none is tried until
    `retry_at`."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(
            "Too many payments were declined in the last hour, so new payments are paused to "
            f"protect your account. You can try again after {clock_time(retry_at)} "
            f"({day(retry_at)})."
        )
        self.retry_at = retry_at


@dataclass(frozen=True)
class Method:
    """How to pay: a one-time token (card or bank) or a saved method of this customer."""

    kind: MethodKind
    token: Token | None = None
    saved_method_id: int | None = None
    save: bool = False


def parse_amount(raw: str, label: str, invoice_id: int | None = None) -> Decimal:
    """A positive amount with at most two decimals, or PaymentRefused naming the invoice."""
    text = raw.strip().replace(",", "").lstrip("$")
    if not AMOUNT_RE.fullmatch(text):
        raise PaymentRefused(
            f"Enter the amount for {label} as dollars and cents, e.g. 125.50.", invoice_id
        )
    value = Decimal(text)
    if value <= 0:
        raise PaymentRefused(f"The amount for {label} must be more than zero.", invoice_id)
    return value


def _lock_customer(s: Session, customer_id: int) -> None:
    """Serialize payments of one customer (two tabs) on SQLite and PostgreSQL alike: the
    account's rows, its locations' included, so a location with a login of its own and its
    parent's account never pay one invoice at the same time."""
    # The account's own row first, by a plain UPDATE: the statement that opens SQLite's
    # write transaction must start with UPDATE (pysqlite begins one only before INSERT,
    # UPDATE, DELETE or REPLACE; an UPDATE with a CTE starts with WITH and ran outside any
    # transaction, locking nothing). Then its locations', read under that lock.
    s.execute(
        sa.update(Customer)
        .where(Customer.id == customer_id)
        .values(balance=Customer.balance)
        .execution_options(synchronize_session=False)
    )
    locations = [i for i in s.scalars(family_of(customer_id)) if i != customer_id]
    if locations:
        s.execute(
            sa.update(Customer)
            .where(Customer.id.in_(locations))
            .values(balance=Customer.balance)
            .execution_options(synchronize_session=False)
        )


def in_flight_by_invoice(s: Session, invoice_ids: list[int]) -> dict[int, Decimal]:
    """Amounts of unfinished payments per invoice: they may still be taken."""
    rows = s.execute(
        sa.select(PaymentAllocation.invoice_id, sa.func.sum(PaymentAllocation.amount))
        .join(Payment)
        .where(PaymentAllocation.invoice_id.in_(invoice_ids), Payment.state.in_(IN_FLIGHT))
        .group_by(PaymentAllocation.invoice_id)
    )
    return {i: Decimal(str(a)).quantize(CENT) for i, a in rows}


def start(
    s: Session,
    customer_id: int,
    user_id: int | None,
    amounts: Mapping[int, str],
    idempotency_key: str,
    method: Method,
    attempt: Attempt | None = None,
) -> Payment:
    """Freeze what is paid to which invoice, recomputed from the mirror; the same key twice
    returns the first payment (a double click or a resubmitted form charges once). With an
    `attempt`, TooManyDeclines after too many declines (nothing reaches the processor)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", idempotency_key):
        raise PaymentRefused("This payment form has expired. Reload the page and try again.")
    _lock_customer(s, customer_id)
    existing = s.scalar(
        sa.select(Payment).where(
            Payment.customer_id == customer_id, Payment.idempotency_key == idempotency_key
        )
    )
    if existing is not None:
        return existing
    if attempt is not None:
        wait = velocity.retry_at(s, customer_id, attempt)  # counted under the customer's lock
        if wait is not None:
            raise TooManyDeclines(wait)
    if not amounts:
        raise PaymentRefused("Choose at least one invoice to pay.")
    kind = method.kind
    if method.saved_method_id is not None:
        kind = _own_method(s, customer_id, method.saved_method_id).kind  # a bank one is BANK
    invoices = {
        inv.id: inv
        for inv in s.scalars(
            sa.select(Invoice).where(
                # the account's own invoices and its locations' (sub-customers billed with
                # it): the QuickBooks Payment, the account's, may link all of them
                Invoice.id.in_(list(amounts)),
                Invoice.customer_id.in_(family_of(customer_id)),
            )
        )
    }
    flight = in_flight_by_invoice(s, list(invoices))
    payment = Payment(
        customer_id=customer_id,
        user_id=user_id,
        idempotency_key=idempotency_key,
        gateway_key="P" + secrets.token_hex(9).upper(),
        method_kind=kind,
        saved_method_id=method.saved_method_id,
        save_method=method.save,
        total=Decimal(0),
        client_address=attempt.address if attempt is not None else None,
    )
    for invoice_id, raw in amounts.items():
        invoice = invoices.get(invoice_id)
        if invoice is None:  # another customer's invoice looks exactly like a missing one
            raise PaymentRefused("One of the invoices is not one of yours. Reload the page.")
        label = f"invoice {invoice.doc_number or invoice.qbo_id}"
        amount = parse_amount(raw, label, invoice.id)
        if not invoice.is_open:
            raise PaymentRefused(f"{label.capitalize()} is already paid or closed.", invoice.id)
        available = invoice.balance - flight.get(invoice.id, Decimal(0))
        if available <= 0:
            raise PaymentRefused(f"A payment for {label} is already being processed.", invoice.id)
        if amount > available:
            raise PaymentRefused(
                f"The amount for {label} is more than its balance of {money(available)}.",
                invoice.id,
            )
        payment.allocations.append(
            PaymentAllocation(
                invoice_id=invoice.id,
                invoice_qbo_id=invoice.qbo_id,
                doc_number=invoice.doc_number,
                amount=amount,
            )
        )
        payment.total += amount
    s.add(payment)
    s.flush()
    return payment


def _own_method(s: Session, customer_id: int, method_id: int) -> SavedMethod:
    method = s.get(SavedMethod, method_id)
    if method is None or method.customer_id != customer_id:
        raise PaymentRefused("That saved payment method no longer exists. Choose another.")
    return method


def _saved_methods(s: Session, customer_id: int) -> list[SavedMethod]:
    return list(
        s.scalars(
            sa.select(SavedMethod).where(SavedMethod.customer_id == customer_id).with_for_update()
        )
    )


def forget_method(s: Session, customer_id: int, method_id: int) -> None:
    """Delete a saved method of this customer; a single one left becomes the default."""
    s.execute(
        sa.delete(SavedMethod).where(
            SavedMethod.id == method_id, SavedMethod.customer_id == customer_id
        )
    )
    left = _saved_methods(s, customer_id)
    if len(left) == 1:
        left[0].is_default = True


def charge(
    sessions: sessionmaker[Session],
    gateway: PaymentGateway,
    payment_id: int,
    method: Method,
    email: str | None = None,
    keep: bool = True,
) -> Payment:
    """Send the charge once and record the answer. INIT → PENDING is a compare-and-set
    committed before the call: of any number of concurrent requests for one payment exactly
    one sends it; the others get the payment as it stands (see `settled`). A method to be
    saved is saved after the outcome is stored (`keep=False`: the caller calls
    `keep_charged_method` itself, to tell the customer when it could not be)."""
    with sessions() as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        if payment.state is not PaymentState.INIT or not move(s, payment, PaymentState.PENDING):
            s.rollback()
            s.refresh(payment)
            return payment  # already sent by this or another request: never charge again
        profile = None
        if method.saved_method_id is not None:
            saved = _own_method(s, payment.customer_id, method.saved_method_id)
            profile = SavedProfile(
                saved.gateway_customer_profile_id, saved.gateway_payment_profile_id
            )
        request = ChargeRequest(
            amount=payment.total,
            key=payment.gateway_key,
            description=_describe(payment),
            customer_ref=str(payment.customer_id),
            email=email,
            token=method.token,
            profile=profile,
        )
        s.commit()
    result = gateway.charge(request)  # outside any transaction, after the intent is stored
    with sessions() as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        if record(s, payment, result):
            commit(s)  # sends the receipt once the success is stored
        else:
            s.rollback()  # recovery settled it first: its answer stands
            s.refresh(payment)
    if keep and method.save and payment.state is PaymentState.SUCCEEDED:
        keep_charged_method(sessions, gateway, payment_id)
    return payment


def settled(
    sessions: sessionmaker[Session], payment_id: int, wait_seconds: float, poll: float = 0.2
) -> Payment:
    """The payment once its charge has an answer, or as it stands after `wait_seconds` (a
    second request for a payment that another request is charging waits for that one)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        with sessions() as s:
            payment = s.get(Payment, payment_id)
            assert payment is not None
            s.expunge(payment)
        if payment.state not in (PaymentState.INIT, PaymentState.PENDING):
            return payment
        if time.monotonic() >= deadline:
            return payment
        time.sleep(poll)


def keep_charged_method(
    sessions: sessionmaker[Session], gateway: PaymentGateway, payment_id: int
) -> str | None:
    """Save the method a succeeded payment used, in the customer's one processor profile,
    after the charge's outcome is stored (a crash before this loses no money, only the save).
    None when it is saved (or was already); else why not, for the customer."""
    with sessions() as s:
        payment = s.get(Payment, payment_id)
        if payment is None or not payment.save_method:
            return None
        if payment.state is not PaymentState.SUCCEEDED or not payment.gateway_trans_id:
            return "the payment is still being confirmed. You can add it on Payment methods."
        customer = s.get(Customer, payment.customer_id)
        owner = MethodOwner(
            str(payment.customer_id),
            customer.email if customer is not None else None,
            profile_of(s, payment.customer_id),
        )
        trans_id, kind = payment.gateway_trans_id, payment.method_kind
        fallback = (payment.account_type or "Card", payment.account_last4 or "????")
        customer_id, user_id = payment.customer_id, payment.user_id
    try:  # outside any transaction
        profile = gateway.save_from_charge(owner, trans_id)
    except GatewayError as exc:
        logger.warning("payment %s: its method was not saved: %s", payment_id, exc)
        return str(exc)
    details = _details(gateway, profile)
    if details is None:
        details = MethodDetails(profile, kind.value, *fallback)
    with sessions() as s:
        keep_method(s, customer_id, user_id, details)
        commit(s)
    return None


def _details(gateway: PaymentGateway, profile: SavedProfile) -> MethodDetails | None:
    """Brand, last 4 and expiry of a method just kept (None when the processor cannot say)."""
    try:
        return gateway.method_details(profile)
    except GatewayError as exc:
        logger.warning("could not describe a saved method: %s", exc)
        return None


def profile_of(s: Session, customer_id: int) -> str | None:
    """The customer's profile at the processor, as their saved methods name it."""
    return s.scalar(
        sa.select(SavedMethod.gateway_customer_profile_id)
        .where(SavedMethod.customer_id == customer_id)
        .order_by(SavedMethod.id)
        .limit(1)
    )


def keep_method(
    s: Session, customer_id: int, user_id: int | None, details: MethodDetails
) -> SavedMethod:
    """Record a method the processor keeps (the one recorded already when it is the same),
    the first one as the default, and tell the login that saved it."""
    _lock_customer(s, customer_id)
    profile = details.profile
    known = s.scalar(
        sa.select(SavedMethod).where(
            SavedMethod.gateway_payment_profile_id == profile.payment_profile_id
        )
    )
    if known is not None:
        return known
    kind = MethodKind.BANK if details.kind == "bank" else MethodKind.CARD
    method = SavedMethod(
        customer_id=customer_id,
        gateway_customer_profile_id=profile.customer_profile_id,
        gateway_payment_profile_id=profile.payment_profile_id,
        kind=kind,
        brand=details.brand[:30],
        last4=details.last4[-4:],
        expiry=details.expiry,
        is_default=not _saved_methods(s, customer_id),  # the first one
        added_by=user_id,
    )
    s.add(method)
    s.flush()
    saver = s.get(PortalUser, user_id) if user_id else None
    if saver is not None:
        alerts.payment_method_saved(s, saver, method.brand, method.last4)
    events.method_added(s, actor(saver) if saver is not None else SYSTEM, method)
    return method


def _describe(payment: Payment) -> str:
    docs = ", ".join(a.doc_number or a.invoice_qbo_id for a in payment.allocations)
    return f"Invoices {docs}"[:255]


def move(s: Session, payment: Payment, new: PaymentState) -> bool:
    """Compare-and-set the payment from the state it was read in to `new`, in `s`'s
    transaction; False (and nothing changed) when another process moved it first."""
    old = payment.state
    if not TRANSITIONS[old]:  # settled already: a late or second answer changes nothing
        logger.warning("payment %s is %s already; %s is ignored", payment.id, old, new)
        return False
    payment.check_move(new)
    changed = s.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.state == old)
        .values(state=new, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        logger.info("payment %s left %s before it could move to %s", payment.id, old, new)
        return False
    set_committed_value(payment, "state", new)
    return True


def record(s: Session, payment: Payment, result: ChargeResult) -> bool:
    """Apply the processor's answer (success lowers balances and queues the write-back);
    False when the payment had moved on meanwhile: the caller rolls back, nothing changed."""
    if result.outcome is Outcome.APPROVED:
        if not move(s, payment, PaymentState.SUCCEEDED):
            return False
        _succeeded(s, payment, result)
    elif result.outcome is Outcome.DECLINED:
        if not move(s, payment, PaymentState.DECLINED):
            return False
        payment.decline_reason = (result.message or "The payment was declined.")[:300]
        payment.gateway_trans_id = result.trans_id or payment.gateway_trans_id
    else:  # no answer, or held for review: the money may move; recovery settles it
        if payment.state is PaymentState.PENDING and not move(s, payment, PaymentState.UNKNOWN):
            return False
        if result.outcome is Outcome.HELD:
            payment.decline_reason = "Held for review by the card processor."
    return True


def _succeeded(s: Session, payment: Payment, result: ChargeResult) -> None:
    payment.gateway_trans_id = result.trans_id
    payment.auth_code = result.auth_code
    payment.account_last4 = result.last4
    payment.account_type = result.account_type
    payment.charged_at = utcnow()
    payment.decline_reason = None
    customer = s.get(Customer, payment.customer_id)
    assert customer is not None
    for allocation in payment.allocations:
        # In SQL, so a sync or a fee landing meanwhile is never overwritten; the mirror keeps
        # this until QuickBooks shows the payment (the outbox effects below).
        s.execute(
            sa.update(Invoice)
            .where(Invoice.id == allocation.invoice_id)
            .values(
                balance=sa.case(
                    (Invoice.balance > allocation.amount, Invoice.balance - allocation.amount),
                    else_=Decimal(0),
                )
            )
            .execution_options(synchronize_session="fetch")
        )
    # Each customer owes what was paid on its invoices less: the account, or its locations.
    paid = (
        sa.select(PaymentAllocation.amount, Invoice.customer_id)
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(PaymentAllocation.payment_id == payment.id)
        .subquery()
    )
    s.execute(
        sa.update(Customer)
        .where(Customer.id.in_(sa.select(paid.c.customer_id)))
        .values(
            balance=Customer.balance
            - sa.select(sa.func.sum(paid.c.amount))
            .where(paid.c.customer_id == Customer.id)
            .scalar_subquery()
        )
        .execution_options(synchronize_session="fetch")
    )
    outbox.enqueue(
        s,
        "qbo.payment",
        customer.realm_id,
        {"payment_id": payment.id},
        dedupe_key=f"payment:{payment.id}",
        effects=[(a.invoice_qbo_id, -a.amount) for a in payment.allocations],
    )
    _queue_receipt(s, payment, customer)
    events.payment_made(s, payment, s.get(PortalUser, payment.user_id) if payment.user_id else None)


def _queue_receipt(s: Session, payment: Payment, customer: Customer) -> None:
    """The receipt, a notice that cannot be turned off: e-mailed after the commit (to the
    login that paid, else the customer) and kept in the customer's notification centre."""
    user = s.get(PortalUser, payment.user_id) if payment.user_id else None
    if not (user and user.email) and not customer.email:
        return  # nobody to send it to (the payment page shows the receipt either way)
    business = brand(s).name
    notify(
        s,
        "receipt",
        customer_id=customer.id,
        subject=f"payment:{payment.id}",
        period="receipt",
        title=f"Receipt for your payment to {business}",
        body=render_template("email/receipt.txt", payment=payment, business=business),
        link=f"/payments/{payment.id}",
        context={"button": "See the receipt"},
        email_to=user.email if user else None,
        send_now=True,
    )


def recover(sessions: sessionmaker[Session], gateway: PaymentGateway) -> int:
    """Settle payments left UNKNOWN (or PENDING by a process that died) by asking the
    processor for the attempt's key; returns how many were settled. Only the processor's
    word settles one: an attempt it has no trace of stays UNKNOWN, flagged for staff."""
    now = utcnow()
    with sessions() as s:
        ids = list(
            s.scalars(
                sa.select(Payment.id).where(
                    sa.or_(
                        Payment.state == PaymentState.UNKNOWN,
                        sa.and_(
                            Payment.state == PaymentState.PENDING,
                            Payment.updated_at < now - STALE_PENDING,
                        ),
                    )
                )
            )
        )
    settled_count = 0
    for payment_id in ids:
        try:
            settled_count += _recover_one(sessions, gateway, payment_id, now)
        except GatewayError as exc:  # asked again on the next run
            logger.warning("payment %s: the processor could not be asked: %s", payment_id, exc)
    return settled_count


def _recover_one(
    sessions: sessionmaker[Session], gateway: PaymentGateway, payment_id: int, now: datetime
) -> int:
    found, since = _ask_processor(sessions, gateway, payment_id)
    with sessions() as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        if payment.state is PaymentState.PENDING and not move(s, payment, PaymentState.UNKNOWN):
            return 0  # its own request answered meanwhile
        if payment.state is not PaymentState.UNKNOWN:
            return 0
        if _settled_by(s, payment, found):
            return 1
        if found is None and payment.created_at < now - GIVE_UP_AFTER:
            payment.review_note = (
                "Needs review: the card processor has no record of this attempt, searched "
                f"back to {day(since)}. It stays unsettled (the money may have moved); "
                "check the processor before marking it."
            )
        commit(s)
        return 0


def _ask_processor(
    sessions: sessionmaker[Session], gateway: PaymentGateway, payment_id: int
) -> tuple[ChargeResult | None, datetime]:
    """What the processor has for the payment's attempt, asked outside any transaction
    (GatewayError when it cannot be asked); and when the attempt was made."""
    with sessions() as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        key, total, since = payment.gateway_key, payment.total, payment.created_at
    return gateway.find(key, total, since), since


def _settled_by(s: Session, payment: Payment, found: ChargeResult | None) -> bool:
    """Record the processor's approval or decline (committed); False when it gave neither,
    or when another process settled the payment first (then nothing changed)."""
    if found is None or found.outcome not in (Outcome.APPROVED, Outcome.DECLINED):
        return False
    if not record(s, payment, found):
        s.rollback()
        return False
    payment.review_note = None
    commit(s)
    return True


class NotSettled(ValueError):
    """Staff cannot settle the payment that way (yet); the message says why."""


def settle_by_staff(
    sessions: sessionmaker[Session], gateway: PaymentGateway, payment_id: int, staff: str
) -> Payment:
    """Staff close a payment flagged "needs review". The processor is asked once more and its
    word wins; only when it still has no trace of the attempt after GIVE_UP_AFTER is the
    payment declined as not charged, in the staff member's name (the invoices are released)."""
    with sessions() as s:
        payment = s.get(Payment, payment_id)
        if payment is None or payment.state is not PaymentState.UNKNOWN:
            raise NotSettled("Only a payment still being confirmed can be settled here.")
    now = utcnow()
    found, _since = _ask_processor(sessions, gateway, payment_id)  # GatewayError propagates
    with sessions() as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        if _settled_by(s, payment, found):
            return payment
        if found is not None and found.outcome in (Outcome.APPROVED, Outcome.DECLINED):
            s.refresh(payment)  # another process settled it first: its answer stands
            return payment
        if found is not None:
            raise NotSettled("The processor holds this charge for review: settle it there first.")
        if payment.created_at > now - GIVE_UP_AFTER:
            raise NotSettled("Too early: the processor may still be recording this attempt.")
        if not move(s, payment, PaymentState.DECLINED):
            raise NotSettled("The payment was settled meanwhile; reload the page.")
        payment.decline_reason = (
            f"Not charged: the processor has no record of it, checked by {staff} on {day(now)}."
        )[:300]
        payment.review_note = None
        commit(s)
        return payment
