"""QuickBooks webhooks: verify the signature, ask for a sync, answer at once.

The body is only a trigger: what changed is read back through CDC, never taken from it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.wrappers import Response

from portal import db
from portal.config import Settings
from sync.service import request_sync

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def signature_valid(body: bytes, signature: str, verifier_token: str) -> bool:
    """Whether intuit-signature is base64(HMAC-SHA256(verifier, body)); constant-time."""
    expected = base64.b64encode(
        hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def realms_in(payload: Any) -> set[str]:
    """Company ids named by a notification (classic or CloudEvents form)."""
    realms: set[str] = set()
    if isinstance(payload, dict):
        for event in payload.get("eventNotifications") or []:
            if isinstance(event, dict) and isinstance(event.get("realmId"), str):
                realms.add(event["realmId"])
    elif isinstance(payload, list):
        for event in payload:
            if isinstance(event, dict) and isinstance(event.get("intuitaccountid"), str):
                realms.add(event["intuitaccountid"])
    return {r for r in realms if 0 < len(r) <= 32}


@bp.route("/quickbooks", methods=["POST"])
def quickbooks() -> Response | tuple[Response, int]:
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    token = settings.quickbooks.webhook_verifier_token
    if not token:
        abort(404)  # webhooks are not set up
    body = request.get_data(cache=False)
    if not signature_valid(body, request.headers.get("intuit-signature", ""), token):
        logger.warning("refused a QuickBooks webhook with a bad signature")
        return jsonify(error="bad signature"), 401
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return jsonify(error="body is not JSON"), 400
    realms = realms_in(payload)
    with db.transaction() as s:
        for realm in sorted(realms):
            request_sync(s, realm)
    logger.info("webhook asked to sync %s company(ies)", len(realms))
    return jsonify(ok=True, realms=len(realms))
