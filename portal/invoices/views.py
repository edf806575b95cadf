"""Customer invoice pages: the list, one invoice, its QuickBooks PDF, and statements."""

from __future__ import annotations

import io
import logging
import re

from flask import Blueprint, abort, current_app, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from portal import auth, db
from portal.auth import customer_required
from portal.billing.models import Customer, Invoice
from portal.clock import today
from portal.config import Settings
from portal.invoices import pdf_cache, service, statements
from portal.invoices.pdf import statement_pdf
from sync.accounting import AccountingError
from sync.service import web_adapters

logger = logging.getLogger(__name__)

bp = Blueprint("invoices", __name__)


def _customer_id() -> int:
    return auth.account_id()


def _problem(message: str, status: int, back: str) -> tuple[str, int]:
    """A page in words for a request we cannot serve, with a way back."""
    return render_template("invoices/problem.html", message=message, back=back), status


@bp.route("/invoices")
@customer_required
def index() -> str | tuple[str, int]:
    try:
        query = service.parse_list_query(request.args)
    except service.BadListQuery as exc:
        return _problem(str(exc), 400, url_for("invoices.index"))
    page = service.list_invoices(db.session(), _customer_id(), query, today())
    return render_template(
        "invoices/list.html", page=page, filters=service.FILTERS, sorts=service.SORTS
    )


def _own_invoice(invoice_id: int) -> Invoice:
    invoice = service.own_invoice(db.session(), _customer_id(), invoice_id)
    if invoice is None:
        abort(404)  # another customer's invoice looks exactly like a missing one
    return invoice


@bp.route("/invoices/<int:invoice_id>")
@customer_required
def detail(invoice_id: int) -> str:
    invoice = _own_invoice(invoice_id)
    return render_template(
        "invoices/detail.html",
        invoice=invoice,
        status=service.status_of(invoice, today()),
        applied=service.applied_to(db.session(), invoice),
        is_late_fee=service.is_late_fee,
    )


@bp.route("/invoices/<int:invoice_id>/pdf")
@customer_required
def pdf(invoice_id: int) -> Response | tuple[str, int]:
    invoice = _own_invoice(invoice_id)
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    db.release()  # QuickBooks may be asked: no transaction held across the call
    try:
        data = pdf_cache.invoice_pdf(
            settings.instance / "pdf-cache",
            web_adapters(current_app),
            invoice.realm_id,
            invoice.qbo_id,
            invoice.sync_token,
        )
    except AccountingError as exc:
        logger.warning("no PDF for invoice %s: %s", invoice.id, exc)
        message = (
            "We could not reach QuickBooks to get this invoice's PDF. "
            "Please try again in a few minutes; the invoice page shows everything meanwhile."
        )
        return _problem(message, 503, url_for("invoices.detail", invoice_id=invoice.id))
    number = re.sub(r"[^A-Za-z0-9_.-]", "_", invoice.doc_number or invoice.qbo_id)
    return send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"invoice-{number}.pdf",
    )


def _own_customer() -> Customer:
    customer = db.session().get(Customer, _customer_id())
    if customer is None:
        abort(404)
    return customer


def _statement() -> statements.Statement:
    """The logged-in customer's statement for ?start&end; BadRange when they make none."""
    customer = _own_customer()
    start, end = request.args.get("start"), request.args.get("end")
    # Only a missing start needs the oldest open invoice (the default range reaches it).
    oldest = None if start else statements.oldest_open_invoice(db.session(), customer.id)
    first, last = statements.parse_range(start, end, today(), oldest)
    return statements.build_statement(db.session(), customer, first, last, today())


def _statement_form(exc: statements.BadRange) -> tuple[str, int]:
    """The statement form again, with what was typed and each field's error beside it."""
    typed = {name: request.args.get(name, "") for name in ("start", "end")}
    page = render_template(
        "invoices/statement.html", statement=None, typed=typed, errors=exc.errors
    )
    return page, 400


@bp.route("/statements")
@customer_required
def statement() -> str | tuple[str, int]:
    try:
        found = _statement()
    except statements.BadRange as exc:
        return _statement_form(exc)
    typed = {"start": found.start.isoformat(), "end": found.end.isoformat()}
    return render_template("invoices/statement.html", statement=found, typed=typed, errors={})


@bp.route("/statements.pdf")
@customer_required
def statement_download() -> Response | tuple[str, int]:
    try:
        found = _statement()
    except statements.BadRange as exc:
        return _statement_form(exc)
    try:
        data = statement_pdf(found)
    except (OSError, ImportError):  # no Pango or no WeasyPrint: a set-up fault, not theirs
        logger.exception("statement PDFs cannot be printed on this server")
        abort(503)
    response = send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"statement-{found.start}-{found.end}.pdf",
    )
    # One customer's figures, made afresh each time and never stored: the app's security
    # headers mark a logged-in response no-store; it also varies with who is logged in.
    response.vary.add("Cookie")
    return response
