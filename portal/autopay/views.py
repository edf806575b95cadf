"""Autopay pages: the customer's settings, skips, scheduled payments and plans; staff see and
set a customer's autopay with the customer's consent recorded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import auth, db
from portal.accounts.models import Role
from portal.audit import events
from portal.audit.web import actor
from portal.auth import fresh_login_required, roles_required, user
from portal.autopay import limits as plan_limits
from portal.autopay import service
from portal.autopay.models import (
    ChargeRun,
    Consent,
    PaymentPlan,
    ScheduledPayment,
    ScheduleState,
)
from portal.autopay.service import AutopayRefused
from portal.billing.models import Customer, Invoice
from portal.clock import today
from portal.config import Settings
from portal.forms import CsrfOnly
from portal.payments.models import SavedMethod

bp = Blueprint("autopay", __name__)


def _customer_id() -> int:
    return auth.account_id()


def _methods(customer_id: int) -> list[SavedMethod]:
    return list(
        db.session().scalars(
            sa.select(SavedMethod)
            .where(SavedMethod.customer_id == customer_id)
            .order_by(SavedMethod.id)
        )
    )


def _rule() -> service.Rule:
    """The rule as posted; AutopayRefused names what is wrong."""
    try:
        method_id = int(request.form.get("method_id", ""))
        days = int(request.form.get("days_before", "0") or 0)
        raw_max = request.form.get("max_amount", "").strip().replace(",", "").lstrip("$")
        max_amount = Decimal(raw_max) if raw_max else None
    except (ValueError, InvalidOperation):
        raise AutopayRefused("Choose a method, whole days and an amount in dollars.") from None
    if max_amount is not None and max_amount != max_amount.quantize(Decimal("0.01")):
        raise AutopayRefused("Write the maximum in dollars and cents.")
    return service.Rule(method_id, days, max_amount)


def _page(customer_id: int, template: str, **extra: object) -> str:
    s = db.session()
    return render_template(
        template,
        enrollment=service.enrollment_of(s, customer_id),
        methods=_methods(customer_id),
        schedules=list(
            s.scalars(
                sa.select(ScheduledPayment)
                .where(ScheduledPayment.customer_id == customer_id)
                .order_by(ScheduledPayment.run_on.desc())
                .limit(50)
            )
        ),
        plans=list(
            s.scalars(
                sa.select(PaymentPlan)
                .where(PaymentPlan.customer_id == customer_id)
                .order_by(PaymentPlan.id.desc())
                .limit(10)
            )
        ),
        runs=list(
            s.scalars(
                sa.select(ChargeRun)
                .where(ChargeRun.customer_id == customer_id)
                .order_by(ChargeRun.id.desc())
                .limit(20)
            )
        ),
        invoices=list(
            s.scalars(
                sa.select(Invoice)
                .where(
                    Invoice.customer_id == customer_id,
                    Invoice.balance > 0,
                    ~Invoice.voided,
                    ~Invoice.deleted,
                )
                .order_by(Invoice.due_date, Invoice.id)
                .limit(100)
            )
        ),
        overdue=service.overdue_invoices(s, customer_id, today()),
        limits=plan_limits.current(s, _settings().autopay),
        form=CsrfOnly(),
        **extra,
    )


@bp.route("/autopay")
@auth.account_required(auth.Access.FULL)
def settings() -> str:
    return _page(_customer_id(), "autopay/settings.html")


@bp.route("/autopay", methods=["POST"])
@auth.account_required(auth.Access.FULL)
@fresh_login_required("autopay.settings")
def save() -> Response | tuple[str, int]:
    customer_id = _customer_id()
    if not CsrfOnly().validate_on_submit():
        abort(400)
    try:
        with db.transaction() as s:
            if request.form.get("action") == "off":
                if service.turn_off(s, customer_id):
                    events.autopay_off(s, actor(), customer_id)
                flash("Autopay is off.", "success")
            else:
                enrolled = service.enroll(s, customer_id, _rule(), user().id, Consent.CUSTOMER)
                events.autopay_on(s, actor(), enrolled)
                flash("Autopay is on.", "success")
    except AutopayRefused as exc:
        flash(str(exc), "error")
        return _page(customer_id, "autopay/settings.html"), 400
    return redirect(url_for("autopay.settings"))


@bp.route("/autopay/skip/<int:invoice_id>", methods=["GET", "POST"])
@auth.account_required(auth.Access.FULL)
def skip(invoice_id: int) -> Response | str:
    customer_id = _customer_id()
    invoice = db.session().get(Invoice, invoice_id)
    if invoice is None or invoice.customer_id != customer_id:
        abort(404)
    form = CsrfOnly()
    if request.method == "POST" and form.validate_on_submit():
        try:
            with db.transaction() as s:
                service.skip(s, customer_id, invoice_id)
        except AutopayRefused as exc:
            flash(str(exc), "error")
            return redirect(url_for("autopay.settings"))
        flash("Autopay will not charge that invoice. Please pay it another way.", "success")
        return redirect(url_for("autopay.settings"))
    return render_template("autopay/skip.html", invoice=invoice, form=form)


@bp.route("/autopay/schedule", methods=["POST"])
@auth.account_required(auth.Access.FULL)
@fresh_login_required("autopay.settings")
def schedule() -> Response | tuple[str, int]:
    customer_id = _customer_id()
    if not CsrfOnly().validate_on_submit():
        abort(400)
    try:
        run_on = date.fromisoformat(request.form.get("run_on", ""))
        method_id = int(request.form.get("method_id", ""))
        amounts = {
            int(key.removeprefix("amount-")): value
            for key, value in request.form.items()
            if key.startswith("amount-") and value.strip()
        }
        with db.transaction() as s:
            planned = service.schedule(
                s, customer_id, method_id, amounts, run_on, today(), user().id
            )
            events.scheduled(s, actor(), planned)
    except (ValueError, AutopayRefused) as exc:
        message = str(exc) if isinstance(exc, AutopayRefused) else "Choose a date and a method."
        flash(message, "error")
        return _page(customer_id, "autopay/settings.html"), 400
    flash(f"The payment is scheduled for {run_on:%B %-d, %Y}.", "success")
    return redirect(url_for("autopay.settings"))


@bp.route("/autopay/schedules/<int:schedule_id>/cancel", methods=["POST"])
@auth.account_required(auth.Access.FULL)
def cancel(schedule_id: int) -> Response:
    if not CsrfOnly().validate_on_submit():
        abort(400)
    with db.transaction() as s:
        if not service.cancel_schedule(s, _customer_id(), schedule_id):
            planned = s.get(ScheduledPayment, schedule_id)
            if planned is None or planned.customer_id != _customer_id():
                abort(404)
            flash("That payment has already run or was cancelled.", "error")
            return redirect(url_for("autopay.settings"))
        events.schedule_cancelled(s, actor(), _customer_id(), schedule_id)
    flash("The scheduled payment is cancelled.", "success")
    return redirect(url_for("autopay.settings"))


@bp.route("/autopay/plan", methods=["POST"])
@auth.account_required(auth.Access.FULL)
@fresh_login_required("autopay.settings")
def plan() -> Response | tuple[str, int]:
    customer_id = _customer_id()
    if not CsrfOnly().validate_on_submit():
        abort(400)
    limits = plan_limits.current(db.session(), _settings().autopay)
    try:
        count = int(request.form.get("installments", ""))
        method_id = int(request.form.get("method_id", ""))
        with db.transaction() as s:
            made = service.make_plan(s, customer_id, method_id, count, today(), user().id, limits)
            events.plan_made(s, actor(), made)
    except (ValueError, AutopayRefused) as exc:
        message = str(exc) if isinstance(exc, AutopayRefused) else "Choose a number and a method."
        flash(message, "error")
        return _page(customer_id, "autopay/settings.html"), 400
    flash("Your payment plan is set up.", "success")
    return redirect(url_for("autopay.settings"))


def _settings() -> Settings:
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    return settings


@bp.route("/admin/customers/<int:customer_id>/autopay", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def staff(customer_id: int) -> Response | str | tuple[str, int]:
    customer = db.session().get(Customer, customer_id)
    if customer is None:
        abort(404)
    if request.method == "POST":
        if not CsrfOnly().validate_on_submit():
            abort(400)
        try:
            with db.transaction() as s:
                if request.form.get("action") == "off":
                    if service.turn_off(s, customer_id):
                        events.autopay_off(s, actor(), customer_id)
                else:
                    note = request.form.get("consent_note", "")
                    rule = _rule()
                    enrolled = service.enroll(s, customer_id, rule, user().id, Consent.STAFF, note)
                    events.autopay_on(s, actor(), enrolled)
        except AutopayRefused as exc:
            flash(str(exc), "error")
            return _page(customer_id, "autopay/staff.html", customer=customer), 400
        flash("Autopay saved, with the customer's consent recorded.", "success")
        return redirect(url_for("autopay.staff", customer_id=customer_id))
    return _page(customer_id, "autopay/staff.html", customer=customer)


@bp.route("/admin/customers/<int:customer_id>/plan", methods=["POST"])
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def staff_plan(customer_id: int) -> Response | tuple[str, int]:
    customer = db.session().get(Customer, customer_id)
    if customer is None:
        abort(404)
    if not CsrfOnly().validate_on_submit():
        abort(400)
    try:
        count = int(request.form.get("installments", ""))
        method_id = int(request.form.get("method_id", ""))
        with db.transaction() as s:
            limits = plan_limits.current(s, _settings().autopay)
            made = service.make_plan(s, customer_id, method_id, count, today(), user().id, limits)
            events.plan_made(s, actor(), made)
    except (ValueError, AutopayRefused) as exc:
        message = str(exc) if isinstance(exc, AutopayRefused) else "Choose a number and a method."
        flash(message, "error")
        return _page(customer_id, "autopay/staff.html", customer=customer), 400
    flash("The payment plan is set up on the customer's behalf.", "success")
    return redirect(url_for("autopay.staff", customer_id=customer_id))


@bp.app_context_processor
def _schedule_states() -> dict[str, object]:
    return {"ScheduleState": ScheduleState}


@bp.route("/admin/plan-limits", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def limits() -> str | tuple[str, int] | Response:
    """The admin's limits on payment plans."""
    s = db.session()
    shown = plan_limits.current(s, _settings().autopay)
    typed = {"count": str(shown.plan_max_installments), "minimum": shown.plan_min_installment}
    error = None
    if request.method == "POST":
        if not CsrfOnly().validate_on_submit():
            abort(400)
        typed = {k: request.form.get(k, "")[:40] for k in ("count", "minimum")}
        try:
            count, minimum = plan_limits.parse(typed["count"], typed["minimum"])
        except plan_limits.LimitsRefused as exc:
            error = str(exc)
        else:
            with db.transaction() as tx:
                plan_limits.save(tx, count, minimum, user().id)
            flash("Payment plan limits saved.", "success")
            return redirect(url_for("autopay.limits"))
    page = render_template("autopay/limits.html", typed=typed, error=error, form=CsrfOnly())
    return (page, 400) if error else page
