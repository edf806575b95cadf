"""Notification pages: the customer's notification centre (and the bell's number), their
choices of channel per kind, one-click unsubscribe links (RFC 8058), and the staff pages
that show a customer's notices and the deliveries that kept failing."""

from __future__ import annotations

import logging
from typing import cast

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from werkzeug.wrappers import Response

from portal import auth, db
from portal.accounts.models import PortalUser, Role
from portal.audit import events
from portal.audit.actions import Action
from portal.audit.service import record
from portal.audit.web import actor
from portal.auth import customer_required, roles_required, user
from portal.billing.models import Customer
from portal.forms import CsrfOnly
from portal.ids import parse_id
from portal.notifications import choices
from portal.notifications import unsubscribe as links
from portal.notifications.kinds import KINDS, Kind, choosable
from portal.notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    SmsContact,
)
from portal.notifications.service import app_now
from portal.redirects import same_site_path

logger = logging.getLogger(__name__)

bp = Blueprint("notifications", __name__)

PER_PAGE = 25
# A verification code is for the phone it went to: it is not news for the centre or the bell.
NOT_IN_CENTRE = ("phone_code",)
View = str | Response | tuple[str, int]


def _customer_id() -> int:
    return auth.account_id()


def _page(raw: str | None, total: int) -> tuple[int, int]:
    """(page, pages) for a `?page=` value: anything odd is page 1, past the end is the last."""
    pages = max(1, -(-total // PER_PAGE))
    return min(parse_id(raw) or 1, pages), pages


# ---- the centre and the bell ----------------------------------------------------------------


def _mine(customer_id: int) -> list[sa.ColumnElement[bool]]:
    return [Notification.customer_id == customer_id, Notification.kind.not_in(NOT_IN_CENTRE)]


def unread(s: Session, customer_id: int) -> int:
    """The bell's number: the customer's unread notices (one COUNT)."""
    query = sa.select(sa.func.count()).select_from(Notification)
    query = query.where(*_mine(customer_id), Notification.read_at.is_(None))
    return int(s.scalar(query) or 0)


@bp.route("/notifications")
@customer_required
def centre() -> str:
    s, customer_id = db.session(), _customer_id()
    total = int(
        s.scalar(sa.select(sa.func.count()).select_from(Notification).where(*_mine(customer_id)))
        or 0
    )
    page, pages = _page(request.args.get("page"), total)
    notices = s.scalars(
        sa.select(Notification)
        .where(*_mine(customer_id))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE)
    ).all()
    return render_template(
        "notifications/centre.html",
        notices=notices,
        links={n.id: same_site_path(n.link) for n in notices},
        total=total,
        page=page,
        pages=pages,
        form=CsrfOnly(),
    )


def _back_to_centre() -> Response:
    page = parse_id(request.form.get("page"))
    return redirect(url_for("notifications.centre", page=page if page and page > 1 else None))


@bp.route("/notifications/<int:notice_id>/read", methods=["POST"])
@customer_required
def mark_read(notice_id: int) -> Response:
    customer_id = _customer_id()
    with db.transaction() as s:
        found = s.execute(
            sa.select(Notification.id, Notification.read_at).where(
                Notification.id == notice_id, *_mine(customer_id)
            )
        ).first()
        if found is None:
            abort(404)  # another customer's notice looks exactly like a missing one
        s.execute(
            sa.update(Notification)
            .where(Notification.id == notice_id, Notification.read_at.is_(None))
            .values(read_at=app_now())
            .execution_options(synchronize_session=False)
        )
    return _back_to_centre()


@bp.route("/notifications/read-all", methods=["POST"])
@customer_required
def mark_all_read() -> Response:
    with db.transaction() as s:
        s.execute(
            sa.update(Notification)
            .where(*_mine(_customer_id()), Notification.read_at.is_(None))
            .values(read_at=app_now())
            .execution_options(synchronize_session=False)
        )
    flash("Every notification is marked as read.", "success")
    return _back_to_centre()


def notification_count() -> int | None:
    """The logged-in customer's unread notices, read once a request (None for anyone else)."""
    if not has_request_context() or not current_user.is_authenticated:
        return None
    me = user()
    if me.role is not Role.CUSTOMER:
        return None
    if "notification_count" not in g:
        g.notification_count = None
        try:
            chosen = auth.current_account()
            if chosen is not None:
                g.notification_count = unread(db.session(), chosen.customer_id)
        except SQLAlchemyError:
            # An error page about the database still renders, without the number.
            logger.warning("unread notices uncountable; bell without a number", exc_info=True)
    return cast(int | None, g.notification_count)


# ---- the customer's choices -----------------------------------------------------------------


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@auth.account_required(auth.Access.FULL)
def preferences() -> View:
    s, customer_id = db.session(), _customer_id()
    current = choices.load_choices(s, customer_id)
    sms = choices.sms_state(s.get(SmsContact, customer_id))
    form = CsrfOnly()
    errors: list[str] = []
    if request.method == "POST":
        try:
            chosen = choices.read_choices(request.form, current, sms == "ok")
        except ValueError as exc:
            errors = [str(e) for e in exc.args]
        else:
            with db.transaction() as s:
                choices.save_choices(s, customer_id, chosen, app_now())
                events.settings_changed(
                    s,
                    Action.NOTIFICATIONS_CHANGED,
                    actor(),
                    customer_id,
                    "Notification choices",
                    events.flat(current),
                    events.flat(chosen),
                )
            flash("Notification choices saved.", "success")
            return redirect(url_for("notifications.preferences"))
    phone_page = "phone.edit" in current_app.view_functions
    return render_template(
        "notifications/preferences.html",
        form=form,
        kinds=choosable(),
        chosen=current,
        choices=choices.CHOICE_LABELS,
        frequencies=choices.FREQUENCIES,
        sms=sms,
        phone_url=url_for("phone.edit") if phone_page else None,
        errors=errors,
    ), (400 if errors else 200)


# ---- one-click unsubscribe (no login) -------------------------------------------------------


def _link_target(token: str) -> tuple[int, Kind] | None:
    found = links.read(token)
    if found is None or db.session().get(Customer, found[0]) is None:
        return None
    return found[0], KINDS[found[1]]


@bp.route("/notifications/unsubscribe/<token>")
def unsubscribe(token: str) -> View:
    found = _link_target(token)
    if found is None:
        return render_template("notifications/unsubscribe.html", kind=None), 400
    return render_template("notifications/unsubscribe.html", kind=found[1], token=token)


@bp.route("/notifications/unsubscribe/<token>", methods=["POST"])
def unsubscribe_now(token: str) -> View:
    """RFC 8058: mail providers POST `List-Unsubscribe=One-Click` here without a session or a
    CSRF token (the signed token is the proof); the page's own button posts the same."""
    found = _link_target(token)
    if found is None:
        return render_template("notifications/unsubscribe.html", kind=None), 400
    customer_id, k = found
    with db.transaction() as s:
        links.turn_off(s, customer_id, k.name)
        off = f"{k.label} turned off by the one-click link in an e-mail"
        record(s, Action.NOTIFICATIONS_CHANGED, customer_id=customer_id, actor=actor(), summary=off)
    logger.info("customer %s turned off %s notices by a one-click link", customer_id, k.name)
    return render_template("notifications/unsubscribe.html", kind=k, done=True)


# ---- staff ----------------------------------------------------------------------------------


def mask_phone(phone: str) -> str:
    """A phone number as staff see it: its last four digits."""
    return (
        f"\u2022\u2022\u2022\u2022 {phone[-4:]}" if len(phone) > 4 else "\u2022\u2022\u2022\u2022"
    )


@bp.route("/admin/customers/<int:customer_id>/notifications")
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def staff_customer(customer_id: int) -> str:
    s = db.session()
    customer = s.get(Customer, customer_id)
    if customer is None:
        abort(404)
    logins = sa.select(PortalUser.id).where(PortalUser.customer_id == customer_id)
    theirs = sa.or_(Notification.customer_id == customer_id, Notification.user_id.in_(logins))
    total = int(s.scalar(sa.select(sa.func.count()).select_from(Notification).where(theirs)) or 0)
    page, pages = _page(request.args.get("page"), total)
    notices = s.scalars(
        sa.select(Notification)
        .where(theirs)
        .options(selectinload(Notification.deliveries))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE)
    ).all()
    return render_template(
        "notifications/staff_customer.html",
        customer=customer,
        kinds=choosable(),
        chosen=choices.load_choices(s, customer_id),
        choices=choices.CHOICE_LABELS,
        frequencies=choices.FREQUENCIES,
        contact=s.get(SmsContact, customer_id),
        notices=notices,
        total=total,
        page=page,
        pages=pages,
        mask_phone=mask_phone,
    )


@bp.route("/admin/notifications")
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def staff_deliveries() -> str:
    s = db.session()
    rows = s.execute(
        sa.select(Delivery, Notification, Customer.display_name)
        .join(Notification, Notification.id == Delivery.notification_id)
        .outerjoin(Customer, Customer.id == Notification.customer_id)
        .where(Delivery.status.in_([DeliveryStatus.PARKED, DeliveryStatus.FAILED]))
        .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
        .limit(100)
    ).all()
    return render_template(
        "notifications/staff_deliveries.html",
        rows=rows,
        skip_new_invoice=choices.skip_new_invoices(s),
        form=CsrfOnly(),
        mask_phone=mask_phone,
    )


@bp.route("/admin/notifications/deliveries/<int:delivery_id>/retry", methods=["POST"])
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def retry(delivery_id: int) -> Response:
    with db.transaction() as s:
        if s.get(Delivery, delivery_id) is None:
            abort(404)
        # Compare-and-set on "parked": a delivery already queued again is left alone.
        again = s.execute(
            sa.update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PARKED)
            .values(status=DeliveryStatus.QUEUED, attempts=0, next_attempt_at=app_now())
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    if again:
        logger.info("delivery %s queued again by %s", delivery_id, user().id)
        flash("It will be sent again within a minute.", "success")
    else:
        flash("That delivery is not waiting to be tried again.", "info")
    return redirect(url_for("notifications.staff_deliveries"))


@bp.route("/admin/notifications/settings", methods=["POST"])
@roles_required(Role.ADMIN)
def staff_settings() -> Response:
    values = request.form.getlist("skip_new_invoice")
    if values not in ([], ["yes"]):
        abort(400)
    skip = values == ["yes"]
    with db.transaction() as s:
        choices.set_skip_new_invoices(s, skip, app_now())
    flash(
        "New-invoice notices are not sent: QuickBooks e-mails invoices."
        if skip
        else "New-invoice notices are sent.",
        "success",
    )
    return redirect(url_for("notifications.staff_deliveries"))


def init_app(app: Flask) -> None:
    """The bell's number on every page, and one-click unsubscribes without a CSRF token."""
    app.extensions["csrf"].exempt(unsubscribe_now)

    @app.context_processor
    def _bell() -> dict[str, int | None]:
        return {"notification_count": notification_count()}
