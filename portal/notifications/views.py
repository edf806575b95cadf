"""Notification pages: the customer's notification centre (and the bell's number), their
choices of channel per kind, one-click unsubscribe links (RFC 8058), and the staff pages
that show a customer's notices and the deliveries that kept failing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from portal import db
from portal.accounts.models import PortalUser, Role
from portal.auth import customer_required, roles_required, user
from portal.billing.models import Customer
from portal.forms import CsrfOnly
from portal.ids import parse_id
from portal.notifications import unsubscribe as links
from portal.notifications.kinds import KINDS, Kind, choosable, parse_channels
from portal.notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    NotificationSetting,
    SmsContact,
    StatementPreference,
)
from portal.notifications.service import app_now
from portal.redirects import same_site_path

logger = logging.getLogger(__name__)

bp = Blueprint("notifications", __name__)

PER_PAGE = 25
# A verification code is for the phone it went to: it is not news for the centre or the bell.
NOT_IN_CENTRE = ("phone_code",)
# A radio button's value → the channels stored ("" is off).
CHOICES = {"off": "", "email": "email", "sms": "sms", "both": "email,sms"}
CHOICE_LABELS = {"off": "Off", "email": "E-mail", "sms": "SMS", "both": "E-mail and SMS"}
FREQUENCIES = {
    "monthly": "Every month",
    "quarterly": "Every three months",
    "never": "Never",
}
View = str | Response | tuple[str, int]


def _customer_id() -> int:
    customer_id = user().customer_id
    assert customer_id is not None  # customer_required and a DB constraint guarantee it
    return customer_id


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
    if me.role is not Role.CUSTOMER or me.customer_id is None:
        return None
    if "notification_count" not in g:
        g.notification_count = None
        try:
            g.notification_count = unread(db.session(), me.customer_id)
        except SQLAlchemyError:
            # An error page about the database still renders, without the number.
            logger.warning("unread notices uncountable; bell without a number", exc_info=True)
    return cast(int | None, g.notification_count)


# ---- the customer's choices -----------------------------------------------------------------


def _token(channels: Sequence[str]) -> str:
    names = set(channels)
    if names == {"email", "sms"}:
        return "both"
    return next(iter(names)) if names else "off"


@dataclass(frozen=True)
class Choices:
    """What a customer chose: a radio value per kind, the statements' frequency, paperless."""

    kinds: dict[str, str]
    frequency: str = "monthly"
    paperless: bool = True


def load_choices(s: Session, customer_id: int) -> Choices:
    """The customer's choices, each kind's default where they made none."""
    stored = {
        row.kind: row.channels
        for row in s.scalars(
            sa.select(NotificationPreference).where(
                NotificationPreference.customer_id == customer_id
            )
        )
    }
    kinds = {}
    for k in choosable():
        chosen = parse_channels(stored[k.name]) if k.name in stored else k.default
        if not chosen and k.mandatory:
            chosen = k.default
        kinds[k.name] = _token([c.value for c in chosen])
    statement = s.get(StatementPreference, customer_id)
    if statement is None:
        return Choices(kinds)
    return Choices(kinds, statement.frequency, statement.paperless)


def read_choices(form: MultiDict[str, str], current: Choices, sms_ok: bool) -> Choices:
    """The choices a form sent; ValueError with every mistake. A kind left out (its checked
    button was disabled: SMS without a number) keeps what it was."""
    known = {k.name: k for k in choosable()}
    errors: list[str] = []
    kinds = dict(current.kinds)
    for key in form:
        if not key.startswith("kind-"):
            continue
        name, values = key.removeprefix("kind-"), form.getlist(key)
        k = known.get(name)
        if k is None:
            errors.append(f"There is no kind of notice called \u201c{name[:40]}\u201d.")
            continue
        if len(values) != 1 or values[0] not in CHOICES:
            errors.append(f"{k.label}: choose off, e-mail, SMS, or e-mail and SMS.")
            continue
        value = values[0]
        if value == "off" and k.mandatory:
            errors.append(f"{k.label}: always sent, so it cannot be turned off.")
        elif "sms" in CHOICES[value] and not sms_ok and value != current.kinds.get(name):
            errors.append(f"{k.label}: SMS needs a verified mobile number that takes our texts.")
        else:
            kinds[name] = value
    frequency = form.get("frequency", "")
    if len(form.getlist("frequency")) != 1 or frequency not in FREQUENCIES:
        errors.append("Statements: choose every month, every three months or never.")
    if errors:
        raise ValueError(*errors)
    return Choices(kinds, frequency, "paperless" in form)


def _upsert(s: Session, model: type[Any], rows: list[dict[str, Any]], keys: list[str]) -> None:
    """INSERT … ON CONFLICT DO UPDATE: two saves at once both land, neither fails."""
    if not rows:
        return
    table = cast(sa.Table, model.__table__)
    maker = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = maker(table)
    changed = {c: statement.excluded[c] for c in rows[0] if c not in keys}
    s.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed), rows)


def save_choices(s: Session, customer_id: int, chosen: Choices) -> None:
    """Store the customer's choices (in the caller's unit of work)."""
    now = app_now()
    rows = [
        {"customer_id": customer_id, "kind": name, "channels": CHOICES[value], "updated_at": now}
        for name, value in chosen.kinds.items()
    ]
    _upsert(s, NotificationPreference, rows, ["customer_id", "kind"])
    statement = {
        "customer_id": customer_id,
        "frequency": chosen.frequency,
        "paperless": chosen.paperless,
        "updated_at": now,
    }
    _upsert(s, StatementPreference, [statement], ["customer_id"])


def _sms_state(contact: SmsContact | None) -> str:
    """ "ok", "none" (no verified number) or "stopped" (the number replied STOP)."""
    if contact is None or contact.verified_at is None:
        return "none"
    return "stopped" if contact.opted_out_at is not None else "ok"


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@customer_required
def preferences() -> View:
    s, customer_id = db.session(), _customer_id()
    current = load_choices(s, customer_id)
    sms = _sms_state(s.get(SmsContact, customer_id))
    form = CsrfOnly()
    errors: list[str] = []
    if request.method == "POST":
        try:
            chosen = read_choices(request.form, current, sms == "ok")
        except ValueError as exc:
            errors = [str(e) for e in exc.args]
        else:
            with db.transaction() as s:
                save_choices(s, customer_id, chosen)
            flash("Notification choices saved.", "success")
            return redirect(url_for("notifications.preferences"))
    phone_page = "phone.edit" in current_app.view_functions
    return render_template(
        "notifications/preferences.html",
        form=form,
        kinds=choosable(),
        chosen=current,
        choices=CHOICE_LABELS,
        frequencies=FREQUENCIES,
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
        chosen=load_choices(s, customer_id),
        choices=CHOICE_LABELS,
        frequencies=FREQUENCIES,
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
    setting = s.get(NotificationSetting, 1)
    return render_template(
        "notifications/staff_deliveries.html",
        rows=rows,
        skip_new_invoice=bool(setting and setting.skip_new_invoice),
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
        row = {"id": 1, "skip_new_invoice": skip, "updated_at": app_now()}
        _upsert(s, NotificationSetting, [row], ["id"])
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
