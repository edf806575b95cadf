"""`create_app`: the Flask application, its extensions and every blueprint."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect
from werkzeug.wsgi import FileWrapper

from portal import auth, branding, db, errors, formatting, ids, ops
from portal.accounts import claim_views, email_views, factor_views, passkey_views, preferences
from portal.accounts.passwords import make_hasher
from portal.accounts.people_views import bp as people_bp
from portal.accounts.service import AccountPolicy
from portal.accounts.views import bp as accounts_bp
from portal.admin.branding import bp as branding_bp
from portal.admin.notices import bp as notices_bp
from portal.admin.payments import bp as admin_payments_bp
from portal.admin.quickbooks import bp as quickbooks_bp
from portal.admin.security import bp as admin_security_bp
from portal.admin.views import bp as admin_bp
from portal.audit.views import bp as audit_bp
from portal.autopay.views import bp as autopay_bp
from portal.billing.location_views import bp as locations_bp
from portal.billing.views import bp as billing_bp
from portal.config import Settings, load_settings
from portal.details.staff import bp as customer_changes_bp
from portal.details.views import bp as details_bp
from portal.invoices.views import bp as invoices_bp
from portal.mail.adapters import mailer_for
from portal.notifications import jobs as notification_jobs
from portal.notifications import views as notification_views
from portal.notifications.phone_views import bp as phone_bp
from portal.notifications.sms import sms_sender_for
from portal.notifications.twilio_hooks import bp as sms_hooks_bp
from portal.overdue.views import bp as overdue_bp
from portal.payments.authorizenet import AuthorizeNetGateway
from portal.payments.views import bp as payments_bp
from portal.webhooks import bp as webhooks_bp
from sync import upsert

ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger(__name__)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from settings (file + env), or from `test_config["SETTINGS"]` in tests."""
    test_config = dict(test_config or {})
    settings: Settings = test_config.pop("SETTINGS", None) or load_settings()
    app = Flask(
        "portal",
        template_folder=str(ROOT / "templates"),
        instance_path=str(settings.instance),
        instance_relative_config=False,
    )
    _configure(app, settings)
    app.config.update(test_config)

    database = db.init_app(app, settings.sqlalchemy_url)
    ops.init_app(app, settings, database)  # first: its request hooks run before the others
    auth.init_app(app)
    csrf = CSRFProtect(app)
    app.extensions["portal.fernet"] = Fernet(settings.portal.encryption_key.encode())
    app.extensions["portal.hasher"] = make_hasher(cheap=bool(app.config.get("ARGON2_CHEAP")))
    app.extensions["portal.account_policy"] = AccountPolicy.from_settings(settings)
    app.extensions["portal.mailer"] = app.config.get("MAILER") or mailer_for(
        settings.mail, settings.mailbox
    )
    gateway = app.config.get("GATEWAY") or _gateway_for(settings)
    if gateway is not None:
        app.extensions["portal.gateway"] = gateway
    sms = app.config.get("SMS") or sms_sender_for(settings)
    if sms is not None:  # without [sms] settings, SMS is off
        app.extensions["portal.sms"] = sms

    ids.init_app(app)  # before the blueprints: their `<int:...>` rules use it
    # Their routes hang on the accounts blueprint, so they are imported before it registers.
    assert email_views.bp is factor_views.bp is passkey_views.bp is claim_views.bp is accounts_bp
    app.register_blueprint(accounts_bp)
    app.register_blueprint(people_bp)
    app.register_blueprint(billing_bp)
    app.register_blueprint(locations_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(quickbooks_bp)
    app.register_blueprint(payments_bp)
    app.register_blueprint(admin_payments_bp)
    app.register_blueprint(invoices_bp)
    app.register_blueprint(overdue_bp)
    app.register_blueprint(notices_bp)
    app.register_blueprint(preferences.bp)
    app.register_blueprint(branding_bp)
    app.register_blueprint(admin_security_bp)
    app.register_blueprint(webhooks_bp)
    csrf.exempt(webhooks_bp)  # signed by Intuit instead; no browser session involved
    if notification_jobs.new_invoices not in upsert.new_invoice_hooks:
        upsert.new_invoice_hooks.append(notification_jobs.new_invoices)
    app.register_blueprint(notification_views.bp)
    app.register_blueprint(sms_hooks_bp)
    csrf.exempt(sms_hooks_bp)  # signed by Twilio (X-Twilio-Signature) instead
    app.register_blueprint(phone_bp)
    app.register_blueprint(autopay_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(details_bp)
    app.register_blueprint(customer_changes_bp)
    errors.init_app(app)
    app.after_request(_close_unsent_file)
    formatting.init_app(app)
    branding.init_app(app)
    preferences.init_app(app)
    notification_views.init_app(app)  # the bell; one-click unsubscribe without CSRF
    return app


def _close_unsent_file(response: Response) -> Response:
    """A 304 sends no body: close the static file it opened (werkzeug would leave it to the
    garbage collector, which warns of an unclosed file)."""
    if response.status_code == 304 and isinstance(response.response, FileWrapper):
        response.response.close()
        response.response = []
    return response


def _gateway_for(settings: Settings) -> Any:
    """The Authorize.Net gateway when it is configured (None: online payments are off)."""
    if not settings.authorizenet.api_login_id:
        return None
    return AuthorizeNetGateway(settings.authorizenet)


def _configure(app: Flask, settings: Settings) -> None:
    public = urlsplit(settings.portal.public_url)
    secure = {"always": True, "never": False}.get(
        settings.security.secure_cookies, public.scheme == "https"
    )
    app.config.update(
        PORTAL_SETTINGS=settings,
        SECRET_KEY=settings.portal.secret_key,
        SESSION_COOKIE_NAME="portal_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.security.session_hours),
        PREFERRED_URL_SCHEME=public.scheme,
        # Forms here are small: refuse big bodies before parsing them.
        MAX_CONTENT_LENGTH=256 * 1024,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAIL_DOMAIN=public.hostname or "localhost",
        BUSINESS_NAME=settings.portal.business_name,
    )
