"""Staff pages: portal payments reconciled with QuickBooks, the outbox, and issuing credits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from portal import db, outbox
from portal.accounts.models import Role
from portal.admin.credits import CreditRefused, check_credit, issue_credit
from portal.audit.web import actor
from portal.auth import roles_required, user
from portal.billing.models import Customer, Invoice, ReceivedPayment
from portal.confirm import ask, confirmed
from portal.formatting import money
from portal.forms import CleanText, CsrfOnly
from portal.ids import parse_id
from portal.outbox import OutboxMessage, OutboxStatus
from portal.payments import service as payment_service
from portal.payments.gateway import GatewayError
from portal.payments.models import Payment, PaymentState

bp = Blueprint("admin_payments", __name__, url_prefix="/admin")

PAGE = 100


class CreditForm(FlaskForm):
    invoice_id = HiddenField(validators=[DataRequired()])
    # one per rendered form: a double submit issues one credit
    idempotency_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])
    amount = StringField("Amount", validators=[DataRequired(), Length(max=16)])
    reason = StringField("Reason", validators=[DataRequired(), CleanText(200)])


CREDIT_FIELDS = ("invoice_id", "idempotency_key", "amount", "reason")


@dataclass(frozen=True)
class Reconciled:
    """One portal payment beside what QuickBooks and the processor say."""

    payment: Payment
    customer: Customer
    in_quickbooks: ReceivedPayment | None
    outbox: OutboxMessage | None
    # How many mirrored QuickBooks Payments carry this charge's transaction id.
    copies: int = 1

    @property
    def status(self) -> str:
        """In words, for the bookkeeper."""
        if self.payment.state is not PaymentState.SUCCEEDED:
            return self.payment.state.value
        if self.outbox is not None and self.outbox.status is OutboxStatus.PARKED:
            return "write-back parked"
        if self.payment.qbo_payment_id is None:
            return "waiting for write-back"
        if self.in_quickbooks is None:
            return "written; not yet seen by sync"
        if self.copies > 1:
            return f"mismatch: in QuickBooks {self.copies} times"
        if self.in_quickbooks.deleted:
            return "mismatch: deleted in QuickBooks"
        if self.in_quickbooks.total_amt != self.payment.total:
            return "mismatch: amounts differ"
        if self.payment.review_note:
            return "needs review"
        return "matched"


def reconcile(s: Session, limit: int = PAGE) -> list[Reconciled]:
    """The latest portal payments with their QuickBooks twin (by Id) and outbox row."""
    rows = s.execute(
        sa.select(Payment, Customer, ReceivedPayment)
        .join(Customer, Customer.id == Payment.customer_id)
        .outerjoin(
            ReceivedPayment,
            sa.and_(
                ReceivedPayment.realm_id == Customer.realm_id,
                ReceivedPayment.qbo_id == Payment.qbo_payment_id,
            ),
        )
        .order_by(Payment.id.desc())
        .limit(limit)
    ).all()
    keys = {f"payment:{p.id}": p.id for p, _c, _r in rows}
    messages = {
        keys[m.dedupe_key]: m
        for m in s.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key.in_(keys)))
        if m.dedupe_key
    }
    refs = [p.gateway_trans_id for p, _c, _r in rows if p.gateway_trans_id]
    copies = dict(
        s.execute(
            sa.select(ReceivedPayment.reference, sa.func.count())
            .where(ReceivedPayment.reference.in_(refs), ~ReceivedPayment.deleted)
            .group_by(ReceivedPayment.reference)
        ).all()
    )
    return [
        Reconciled(p, c, r, messages.get(p.id), copies.get(p.gateway_trans_id, 1))
        for p, c, r in rows
    ]


@bp.route("/payments")
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def payments() -> str:
    s = db.session()
    parked = list(
        s.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.status != OutboxStatus.DONE)
            .order_by(OutboxMessage.id)
            .limit(PAGE)
        )
    )
    return render_template(
        "admin/payments.html", rows=reconcile(s), pending=parked, form=CsrfOnly()
    )


@bp.route("/payments/<int:payment_id>/settle", methods=["POST"])
@roles_required(Role.ADMIN)
def settle(payment_id: int) -> Response | tuple[str, int]:
    """Close a payment flagged "needs review": the processor's word, else "not charged"."""
    payment = db.session().get(Payment, payment_id)
    if payment is None:
        abort(404)
    gateway = current_app.extensions.get("portal.gateway")
    if gateway is None:
        abort(404)
    if not confirmed():
        return ask(
            "Settle this payment?",
            f"The card processor is asked once more about the {money(payment.total)} attempt "
            f"{payment.gateway_key}. If it still has no record of it, the payment is closed "
            "as not charged and its invoices can be paid again.",
            url_for("admin_payments.settle", payment_id=payment_id),
            url_for("admin_payments.payments"),
            "Ask the processor and settle",
        )
    db.release()  # the processor is asked: no transaction held across the call
    try:
        settled = payment_service.settle_by_staff(
            db.database().sessions, gateway, payment_id, user().username
        )
    except (payment_service.NotSettled, GatewayError) as exc:
        flash(str(exc), "error")
    else:
        flash(f"Payment {settled.gateway_key} is {settled.state.value}.", "success")
    return redirect(url_for("admin_payments.payments"))


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@roles_required(Role.ADMIN)
def retry(message_id: int) -> Response:
    with db.transaction() as s:
        if not outbox.retry(s, message_id):
            abort(404)
    flash("Sent again: the worker retries it within a few seconds.", "success")
    return redirect(url_for("admin_payments.payments"))


def _invoice_id(form: CreditForm) -> int:
    """The invoice chosen on the form; ValueError when the field cannot name one."""
    invoice_id = parse_id(form.invoice_id.data)
    if invoice_id is None:
        raise ValueError("not an invoice id")
    return invoice_id


def _ask_credit(s: Session, form: CreditForm, customer: Customer) -> tuple[str, int] | None:
    """Are you sure? The same form again with confirm=1; None (and why, flashed) when the
    credit would be refused anyway."""
    try:
        invoice, amount = check_credit(s, customer.id, _invoice_id(form), form.amount.data or "")
    except (CreditRefused, ValueError) as exc:
        flash(str(exc) if isinstance(exc, CreditRefused) else "Choose an invoice.", "error")
        return None
    return ask(
        f"Issue a credit of {money(amount)} to {customer.display_name}?",
        f"It lowers invoice {invoice.doc_number or invoice.qbo_id} (balance "
        f"{money(invoice.balance)}) now and becomes a credit memo in QuickBooks.",
        url_for("admin_payments.credit", customer_id=customer.id),
        url_for("admin_payments.credit", customer_id=customer.id),
        "Issue credit",
        [(name, getattr(form, name).data or "") for name in CREDIT_FIELDS],
    )


@bp.route("/customers/<int:customer_id>/credit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def credit(customer_id: int) -> Response | tuple[str, int]:
    s = db.session()
    customer = s.get(Customer, customer_id)
    if customer is None:
        abort(404)
    form = CreditForm()
    status = 200
    if form.validate_on_submit() and not confirmed():
        asked = _ask_credit(s, form, customer)
        if asked is not None:
            return asked
        status = 400
    elif form.validate_on_submit():
        try:
            with db.transaction() as tx:
                issued = issue_credit(
                    tx,
                    customer_id,
                    _invoice_id(form),
                    form.amount.data or "",
                    form.reason.data or "",
                    user().id,
                    key=form.idempotency_key.data,
                    actor=actor(),
                )
        except (CreditRefused, ValueError) as exc:
            flash(str(exc) if isinstance(exc, CreditRefused) else "Choose an invoice.", "error")
            status = 400
        except IntegrityError:  # the same form, submitted twice at once
            issued = False
        if status == 200:
            flash(
                "Credit issued; it is written to QuickBooks within a few seconds."
                if issued
                else "This credit was already issued; it was not issued twice.",
                "success",
            )
            return redirect(url_for("admin_payments.credit", customer_id=customer_id))
    elif request.method == "POST":
        status = 400
    invoices = list(
        s.scalars(
            sa.select(Invoice)
            .where(
                Invoice.customer_id == customer_id,
                Invoice.balance > 0,
                ~Invoice.voided,
                ~Invoice.deleted,
            )
            .order_by(Invoice.id)
        )
    )
    return render_template(
        "admin/credit.html",
        customer=customer,
        invoices=invoices,
        form=form,
        zero=Decimal(0),
        idempotency_key=secrets.token_urlsafe(24),
    ), status
