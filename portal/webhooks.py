"""QuickBooks webhooks: verify the signature, ask for a sync, answer at once (the parsing is
sync.quickbooks.webhooks)."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.wrappers import Response

from portal import db
from portal.clock import clock_of
from portal.config import Settings
from sync.quickbooks.webhooks import (
    BadNotification,
    first_delivery,
    realms_notified,
    signature_valid,
)
from sync.service import request_sync

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

# Intuit batches events per company into a few KB; far more is not a notification.
MAX_BODY = 64 * 1024


@bp.route("/quickbooks", methods=["POST"])
def quickbooks() -> Response | tuple[Response, int]:
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    token = settings.quickbooks.webhook_verifier_token
    if not token:
        abort(404)  # webhooks are not set up
    if (request.content_length or 0) > MAX_BODY:
        return jsonify(error="body too large"), 413
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return jsonify(error="body too large"), 413
    signature = request.headers.get("intuit-signature", "")
    if not signature_valid(body, signature, token):
        logger.warning("refused a QuickBooks webhook with a bad signature")
        return jsonify(error="bad signature"), 401
    try:
        realms = realms_notified(body)
    except BadNotification as exc:
        return jsonify(error=str(exc)), 400
    with db.transaction() as s:
        # In the same unit of work as its effect: a replay racing the original changes nothing.
        if not first_delivery(s, signature, body, clock_of(current_app)()):
            logger.info("ignored a replayed QuickBooks webhook")
            return jsonify(ok=True, replay=True)  # 2xx: Intuit would retry anything else
        for realm in sorted(realms):
            request_sync(s, realm)
    logger.info("webhook asked to sync %s company(ies)", len(realms))
    return jsonify(ok=True, realms=len(realms))
