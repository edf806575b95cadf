"""The audit log's pages: the account owner's activity log and the staff's, with its CSV."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, stream_with_context

from portal import auth, db
from portal.accounts.models import Role
from portal.audit import export, queries
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.auth import roles_required
from portal.formatting import company_zone
from portal.ids import parse_id

bp = Blueprint("audit", __name__)


def _before() -> int | None:
    """The keyset cursor: events older than this id (a bad one is the first page)."""
    return parse_id(request.args.get("before"))


@bp.route("/account/activity-log")
@auth.account_required(auth.Access.OWNER)
def account() -> str:
    customer_id = auth.account_id()
    rows, older = queries.page(db.session(), [AuditEvent.customer_id == customer_id], _before())
    return render_template("audit/account.html", rows=rows, older=older, first=_before() is None)


@bp.route("/admin/audit")
@roles_required(Role.BOOKKEEPER, Role.ADMIN)
def staff() -> tuple[str, int]:
    filters, errors = queries.parse_filters(request.args)
    where = queries.conditions(filters, company_zone())
    rows, older = queries.page(db.session(), where, _before())
    page = render_template(
        "audit/staff.html",
        rows=rows,
        older=older,
        first=_before() is None,
        filters=filters,
        errors=errors,
        actions=list(Action),
    )
    return page, 400 if errors else 200


@bp.route("/admin/audit.csv")
@roles_required(Role.BOOKKEEPER, Role.ADMIN)
def staff_csv() -> Response:
    filters, errors = queries.parse_filters(request.args)
    if errors:
        return Response("; ".join(errors) + "\n", 400, mimetype="text/plain")
    where = queries.conditions(filters, company_zone())
    db.release()  # the request's own read ends here; the export reads in its own session
    events = queries.every(db.database().sessions, where)
    body = stream_with_context(export.lines(events))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
