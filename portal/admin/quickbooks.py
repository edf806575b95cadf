"""Admin: connect QuickBooks (OAuth 2), disconnect, watch the sync and run it now."""

from __future__ import annotations

import logging
import secrets

from flask import (
    Blueprint,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from portal import db
from portal.accounts.models import Role
from portal.auth import roles_required
from portal.config import Settings
from portal.confirm import ask, confirmed
from sync import service
from sync.accounting import AccountingError
from sync.models import SyncState
from sync.quickbooks.connection import authorization_url
from sync.quickbooks.connection import connect as store_connection
from sync.quickbooks.connection import disconnect as drop_connection

logger = logging.getLogger(__name__)

bp = Blueprint("quickbooks", __name__, url_prefix="/admin/quickbooks")

STATE_KEY = "qbo_oauth_state"


class RealmForm(FlaskForm):
    realm_id = HiddenField(validators=[DataRequired(), Length(max=32)])


class ConnectForm(FlaskForm):
    """Only the CSRF token: starting OAuth is a POST."""


def _sessions() -> sessionmaker[Session]:
    factory: sessionmaker[Session] = current_app.extensions["portal.db"].sessions
    return factory


def _settings() -> Settings:
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    return settings


def _company_name(realm: str) -> str:
    """The company's name as QuickBooks gave it, else its id in words."""
    state = db.session().get(SyncState, realm)
    return state.company_name if state and state.company_name else f"QuickBooks company {realm}"


@bp.app_context_processor
def _reconnect_banner() -> dict[str, object]:
    """Every staff page says when QuickBooks must be connected again (writes are paused)."""
    if not has_request_context() or not current_user.is_authenticated:
        return {}  # e-mails are rendered outside requests
    if current_user.role == Role.CUSTOMER:
        return {}
    return {"qbo_reconnect": service.needing_reconnect(db.database().sessions)}


@bp.route("")
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def status() -> str:
    settings = _settings()
    return render_template(
        "admin/quickbooks.html",
        statuses=service.status(db.session(), settings),
        configured=bool(settings.quickbooks.client_id and settings.quickbooks.client_secret),
        connect_form=ConnectForm(),
        realm_form=RealmForm(),
    )


@bp.route("/connect", methods=["POST"])
@roles_required(Role.ADMIN)
def connect() -> Response:
    ConnectForm().validate_on_submit()  # CSRF is checked before the view for every POST
    state = secrets.token_urlsafe(24)
    try:
        db.release()  # Intuit is asked: no transaction held across the call
        target = authorization_url(_settings(), state)
    except AccountingError as exc:  # Intuit's discovery document could not be read
        flash(f"QuickBooks cannot be reached to connect: {exc}", "error")
        return redirect(url_for("quickbooks.status"))
    session[STATE_KEY] = state
    return redirect(target)


@bp.route("/callback")
@roles_required(Role.ADMIN)
def callback() -> Response:
    expected = session.pop(STATE_KEY, None)
    refused = request.args.get("error", "")
    if refused:
        flash(f"QuickBooks did not connect: {refused[:100]}.", "error")
        return redirect(url_for("quickbooks.status"))
    code, realm = request.args.get("code", ""), request.args.get("realmId", "")
    if not expected or not secrets.compare_digest(expected, request.args.get("state", "")):
        flash("That QuickBooks answer did not match a connection we started. Try again.", "error")
        return redirect(url_for("quickbooks.status"))
    if not code or not realm or len(realm) > 32:
        flash("QuickBooks did not send a company and code. Try again.", "error")
        return redirect(url_for("quickbooks.status"))
    try:
        db.release()  # Intuit is asked: no transaction held across the call
        store_connection(
            _settings(),
            _sessions(),
            current_app.extensions["portal.fernet"],
            code,
            realm,
        )
    except AccountingError as exc:
        flash(f"QuickBooks did not connect: {exc}", "error")
        return redirect(url_for("quickbooks.status"))
    with db.transaction() as s:
        service.request_sync(s, realm)
    flash("QuickBooks is connected. The first sync starts shortly and reads its name.", "success")
    return redirect(url_for("quickbooks.status"))


@bp.route("/disconnect", methods=["POST"])
@roles_required(Role.ADMIN)
def disconnect() -> Response | tuple[str, int]:
    form = RealmForm()
    if form.validate_on_submit() and not confirmed():
        realm = form.realm_id.data or ""
        return ask(
            f"Disconnect {_company_name(realm)} from the portal?",
            "The portal stops syncing with it and writing payments to it until you connect "
            "again; mirrored data stays.",
            url_for("quickbooks.disconnect"),
            url_for("quickbooks.status"),
            "Disconnect",
            [("realm_id", realm)],
        )
    if form.validate_on_submit():
        db.release()  # Intuit is asked: no transaction held across the call
        drop_connection(
            _settings(),
            _sessions(),
            current_app.extensions["portal.fernet"],
            form.realm_id.data or "",
        )
        flash("QuickBooks is disconnected; mirrored data stays until you connect again.", "info")
    return redirect(url_for("quickbooks.status"))


@bp.route("/sync", methods=["POST"])
@roles_required(Role.ADMIN)
def sync_now() -> Response:
    form = RealmForm()
    if form.validate_on_submit():
        realm = form.realm_id.data or ""
        with db.transaction() as s:
            if request.form.get("full") == "1":
                state = s.get(SyncState, realm)
                if state is not None and state.full_entity is None:
                    state.watermark = None  # the next run pulls everything again
            service.request_sync(s, realm)
        flash("Sync requested: the worker starts it within a few seconds.", "success")
    return redirect(url_for("quickbooks.status"))
