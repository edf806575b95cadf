"""Twilio's callbacks: message status (a Delivery moves on, never back) and inbound messages
(STOP/START mirrored on the SMS contacts, HELP answered). Both are signed with
X-Twilio-Signature over the URL Twilio called, which is built from public_url (behind a
proxy the Host seen here is not the one Twilio signed)."""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from portal import db
from portal.config import Settings
from portal.db import utcnow
from portal.notifications import sms_status
from portal.notifications.models import SmsContact

logger = logging.getLogger(__name__)

bp = Blueprint("sms_hooks", __name__, url_prefix="/webhooks/twilio")

# A callback is a few hundred bytes of form; far more is not Twilio.
MAX_BODY = 64 * 1024
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _settings() -> Settings:
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    return settings


def _signed_form() -> MultiDict[str, str] | Response:
    """The callback's form when its size and signature are right, else the refusal."""
    sms = _settings().sms
    if not sms.account_sid or not sms.auth_token:
        abort(404)  # SMS is off: nothing to call back
    if (request.content_length or 0) > MAX_BODY:
        return Response("too large", status=413, mimetype="text/plain")
    request.max_content_length = MAX_BODY  # also for a body without a Content-Length
    form = request.form
    url = _settings().portal.public_url.rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(sms.auth_token).validate(url, form, signature):
        logger.warning("refused a Twilio callback with a bad signature on %s", request.path)
        return Response("bad signature", status=403, mimetype="text/plain")
    if form.get("AccountSid") != sms.account_sid:
        logger.warning("refused a Twilio callback for another account")
        return Response("wrong account", status=403, mimetype="text/plain")
    return form


@bp.post("/status")
def status() -> Response:
    form = _signed_form()
    if isinstance(form, Response):
        return form
    sid, reported = form.get("MessageSid", ""), form.get("MessageStatus", "")
    with db.transaction() as s:
        changed = sms_status.record(s, sid, reported, form.get("ErrorCode"))
    logger.info("SMS %s reported %s (%s row(s) moved)", sid, reported, changed)
    return Response(status=204)


@bp.post("/inbound")
def inbound() -> Response:
    form = _signed_form()
    if isinstance(form, Response):
        return form
    phone = form.get("From", "")
    word = form.get("Body", "").strip().upper()
    opt_out = form.get("OptOutType", "").upper()  # set by Twilio's advanced opt-out
    if opt_out == "STOP" or word in STOP_WORDS:
        _set_opted_out(phone, stopped=True)
        return _twiml(EMPTY_TWIML)  # Twilio sends the confirmation itself
    if opt_out == "START" or word in START_WORDS:
        _set_opted_out(phone, stopped=False)
        return _twiml(EMPTY_TWIML)
    if opt_out == "HELP" or word in HELP_WORDS:
        text = escape(_settings().sms.help_text)
        return _twiml(
            f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{text}</Message></Response>'
        )
    logger.info("ignored an inbound SMS that is not a keyword")
    return _twiml(EMPTY_TWIML)


def _set_opted_out(phone: str, *, stopped: bool) -> None:
    """Mirror Twilio's opt-out on every contact with that number (several customers may
    share one phone); only rows not already in that state change."""
    if not phone:
        return
    with db.transaction() as s:
        done = s.execute(
            sa.update(SmsContact)
            .where(
                SmsContact.phone == phone,
                SmsContact.opted_out_at.is_(None)
                if stopped
                else SmsContact.opted_out_at.is_not(None),
            )
            .values(opted_out_at=utcnow() if stopped else None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    logger.info("inbound %s: %s contact(s) changed", "STOP" if stopped else "START", done)


def _twiml(xml: str) -> Response:
    return Response(xml, mimetype="text/xml")
