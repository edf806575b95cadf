"""Customer pages: pay invoices, receipts, payment history, saved methods."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from portal import auth, db
from portal.admin.alerts import tell_admins_about_declines
from portal.auth import customer_required, user
from portal.billing.locations import family_of
from portal.billing.models import Invoice
from portal.clock import clock_of, today
from portal.config import Settings
from portal.formatting import money
from portal.forms import CsrfOnly
from portal.ids import parse_id
from portal.payments import service
from portal.payments.gateway import GatewayError, PaymentGateway, Token
from portal.payments.models import MethodKind, Payment, PaymentState, SavedMethod
from portal.payments.service import Method, PaymentRefused, TooManyDeclines
from portal.payments.velocity import Attempt

logger = logging.getLogger(__name__)

bp = Blueprint("payments", __name__)

ACCEPT_DESCRIPTOR = "COMMON.ACCEPT.INAPP.PAYMENT"


def _gateway() -> PaymentGateway | None:
    gateway: PaymentGateway | None = current_app.extensions.get("portal.gateway")
    return gateway


def _customer_id() -> int:
    return auth.account_id()


def _open_invoices() -> list[tuple[Invoice, Decimal]]:
    """The account's open invoices (its locations' included, each with its customer for the
    location's name) with what can still be paid on each."""
    s = db.session()
    invoices = list(
        s.scalars(
            sa.select(Invoice)
            .options(joinedload(Invoice.customer))
            .where(
                Invoice.customer_id.in_(family_of(_customer_id())),
                Invoice.balance > 0,
                ~Invoice.voided,
                ~Invoice.deleted,
            )
            .order_by(Invoice.due_date.asc().nulls_last(), Invoice.id)
        )
    )
    flight = service.in_flight_by_invoice(s, [i.id for i in invoices])
    return [(i, i.balance - flight.get(i.id, Decimal(0))) for i in invoices]


def _methods() -> list[SavedMethod]:
    """The account's saved methods this person may use ("pay" access: their own only)."""
    query = sa.select(SavedMethod).where(SavedMethod.customer_id == _customer_id())
    only = auth.own_methods_only()
    if only is not None:
        query = query.where(SavedMethod.added_by == only)
    return list(db.session().scalars(query.order_by(SavedMethod.is_default.desc(), SavedMethod.id)))


@dataclass(frozen=True)
class PayErrors:
    """What went wrong, for the summary at the top and beside the field it concerns."""

    message: str
    invoice_id: int | None = None  # the amount field of this invoice
    method: bool = False  # the card, bank or saved-method choice


def _typed() -> tuple[set[int] | None, dict[int, str]]:
    """The selection and amounts as the customer sent them (None: not posted, all chosen)."""
    if request.method != "POST":
        return None, {}
    selected = _ids(request.form.getlist("invoice")[:500])
    amounts = {}
    for key, value in request.form.items():
        invoice_id = parse_id(key.removeprefix("amount-")) if key.startswith("amount-") else None
        if invoice_id is not None:
            amounts[invoice_id] = value[:32]
    return selected, amounts


def _ids(values: list[str]) -> set[int]:
    """The ids among `values`; anything that cannot be one is left out."""
    return {i for i in map(parse_id, values) if i is not None}


def _total(
    rows: list[tuple[Invoice, Decimal]], selected: set[int] | None, typed: dict[int, str]
) -> Decimal:
    """What the button and the total say: the chosen amounts that read as money."""
    total = Decimal(0)
    for invoice, payable in rows:
        if payable <= 0 or (selected is not None and invoice.id not in selected):
            continue
        text = typed.get(invoice.id, f"{payable:.2f}").strip().replace(",", "").lstrip("$")
        if service.AMOUNT_RE.fullmatch(text):
            total += Decimal(text)
    return total


def _render_pay(errors: PayErrors | None = None, status: int = 200) -> tuple[str, int]:
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    rows = _open_invoices()
    selected, typed = _typed()
    if selected is None:
        selected = _ids(request.args.getlist("invoice")[:500]) or None
    return render_template(
        "payments/pay.html",
        rows=rows,
        methods=_methods(),
        errors=errors,
        chosen_method=request.form.get("method") if request.method == "POST" else None,
        form=CsrfOnly(),
        idempotency_key=secrets.token_urlsafe(24),
        enabled=_gateway() is not None,
        accept_js_url=settings.authorizenet.accept_js_url,
        client_key=_client_key(),
        api_login_id=settings.authorizenet.api_login_id,
        selected=selected,
        typed=typed,
        total=_total(rows, selected, typed),
        today=today(),
    ), status


def _client_key() -> str:
    gateway = _gateway()
    if gateway is None:
        return ""
    db.release()  # the processor may be asked: no transaction held across the call
    try:
        return gateway.client_key()
    except GatewayError as exc:
        logger.warning("no Accept.js client key: %s", exc)
        return ""


def _with_accept_csp(response: Response) -> Response:
    """Let the pay page load Accept.js and let it post the card to the processor."""
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(settings.authorizenet.accept_js_url))
    api = "{0.scheme}://{0.netloc}".format(urlsplit(settings.authorizenet.api_url))
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; img-src 'self' data:; style-src 'self'; "
        f"script-src 'self' {origin}; connect-src 'self' {origin} {api} https://api2.authorize.net;"
        " frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )
    return response


class MethodRefused(PaymentRefused):
    """The payment method (not an amount) is what is wrong."""


def _method_from_form() -> Method:
    choice = request.form.get("method", "card")
    if choice.startswith("saved-"):
        saved_id = parse_id(choice.removeprefix("saved-"))
        if saved_id is None:
            raise MethodRefused("Choose a payment method from the list.")
        only = auth.own_methods_only()
        if only is not None:
            saved = db.session().get(SavedMethod, saved_id)
            if saved is None or saved.added_by != only:
                raise MethodRefused("Choose a payment method from the list.")
        return Method(MethodKind.CARD, saved_method_id=saved_id)
    kind = MethodKind.BANK if choice == "bank" else MethodKind.CARD
    value = request.form.get("opaque_value", "")
    if request.form.get("opaque_descriptor") != ACCEPT_DESCRIPTOR or not value or len(value) > 8000:
        raise MethodRefused(
            "Your card or bank details did not reach the processor. Check them and try again."
        )
    return Method(
        kind, token=Token(ACCEPT_DESCRIPTOR, value), save=request.form.get("save_method") == "1"
    )


def _amounts_from_form() -> dict[int, str]:
    amounts: dict[int, str] = {}
    for raw in request.form.getlist("invoice")[:500]:
        invoice_id = parse_id(raw)
        if invoice_id is None:
            raise PaymentRefused("Choose invoices from the list.")
        amounts[invoice_id] = request.form.get(f"amount-{raw}", "")[:32]
    return amounts


def _attempt() -> Attempt:
    """This attempt's client address and time, and the decline limits of [payments]."""
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    return Attempt(
        address=(request.remote_addr or "")[:45] or None,
        now=clock_of(current_app)(),
        per_customer=settings.payments.declines_per_customer,
        per_address=settings.payments.declines_per_address,
    )


@bp.route("/pay", methods=["GET", "POST"])
@auth.account_required(auth.Access.PAY)
def pay() -> Response | tuple[str, int]:
    gateway = _gateway()
    if request.method == "GET" or gateway is None:
        page, status = _render_pay()
        return _with_accept_csp(current_app.make_response((page, status)))
    try:
        method = _method_from_form()
        with db.transaction() as s:
            payment = service.start(
                s,
                _customer_id(),
                user().id,
                _amounts_from_form(),
                request.form.get("idempotency_key", ""),
                method,
                _attempt(),
            )
            payment_id = payment.id
    except TooManyDeclines as exc:
        logger.warning("customer %s: payment refused after too many declines", _customer_id())
        tell_admins_about_declines(
            db.database().sessions, _customer_id(), clock_of(current_app)(), exc.retry_at
        )
        page, status = _render_pay(PayErrors(str(exc), method=True), 429)
        return _with_accept_csp(current_app.make_response((page, status)))
    except PaymentRefused as exc:
        errors = PayErrors(str(exc), exc.invoice_id, method=isinstance(exc, MethodRefused))
        page, status = _render_pay(errors, 400)
        return _with_accept_csp(current_app.make_response((page, status)))
    sessions = db.database().sessions
    payment = service.charge(sessions, gateway, payment_id, method, email=user().email, keep=False)
    if payment.state in (PaymentState.INIT, PaymentState.PENDING):
        # Another request (a double click, a second tab, a phone retrying) is charging this
        # very payment: wait for its answer instead of charging again.
        settings: Settings = current_app.config["PORTAL_SETTINGS"]
        wait = min(settings.authorizenet.timeout_seconds + 2, 15)
        payment = service.settled(sessions, payment_id, wait_seconds=wait)
    if payment.state is PaymentState.DECLINED:
        message = f"Your payment was declined: {payment.decline_reason} Nothing was charged."
        page, status = _render_pay(PayErrors(message, method=True), 402)
        return _with_accept_csp(current_app.make_response((page, status)))
    if payment.state is PaymentState.SUCCEEDED:
        flash(f"Thank you! Your payment of {money(payment.total)} was received.", "success")
    else:
        flash("This payment is already being processed; you will not be charged twice.", "info")
    if method.save:
        _keep_method(gateway, payment, method)
    return redirect(url_for("payments.receipt", payment_id=payment_id), code=303)


def _keep_method(gateway: PaymentGateway, payment: Payment, method: Method) -> None:
    """Save the method just charged; say so plainly when it could not be."""
    what = "bank account" if method.kind is MethodKind.BANK else "card"
    if payment.state is not PaymentState.SUCCEEDED:
        flash(
            f"The {what} was not saved: the payment is still being confirmed. "
            "You can add it on the Payment methods page.",
            "info",
        )
        return
    problem = service.keep_charged_method(db.database().sessions, gateway, payment.id)
    if problem is not None:
        flash(f"Your payment went through, but we could not save the {what}: {problem}", "error")


def _own_payment(payment_id: int) -> Payment:
    payment = db.session().get(Payment, payment_id)
    if payment is None or payment.customer_id != _customer_id():
        abort(404)  # another customer's payment looks exactly like a missing one
    return payment


@bp.route("/payments/<int:payment_id>")
@customer_required
def receipt(payment_id: int) -> str:
    return render_template("payments/receipt.html", payment=_own_payment(payment_id))


@bp.route("/payments")
@customer_required
def history() -> str:
    payments = list(
        db.session().scalars(
            sa.select(Payment)
            .where(Payment.customer_id == _customer_id())
            .order_by(Payment.id.desc())
            .limit(200)
        )
    )
    return render_template("payments/history.html", payments=payments)


# The saved-method pages live in their own module, on this blueprint.
from portal.payments import method_pages  # noqa: E402, F401
