"""The Accept.js stand-in: GET /v1/Accept.js and the JSON token endpoint it posts to."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, current_app, json, request

from .cards import PaymentMethod
from .state import AnetState
from .tokens import AcceptError, bank_from_fields, card_from_fields, check_auth, success_payload

logger = logging.getLogger(__name__)

SCRIPT_PATH = "/v1/Accept.js"
TOKENS_PATH = "/v1/tokens"
_LOOPBACK_ORIGIN = re.compile(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$")

ACCEPT_JS = """/* Accept.js stand-in served by the local Authorize.Net sandbox. */
(function (global) {
  "use strict";
  var ENDPOINT = "__TOKENS_URL__";
  function failure(code, text) {
    return {messages: {resultCode: "Error", message: [{code: code, text: text}]}};
  }
  function dispatchData(secureData, responseHandler) {
    if (typeof responseHandler !== "function") {
      throw new Error("Accept.dispatchData needs a response handler");
    }
    var request;
    try {
      request = {method: "POST", mode: "cors", headers: {"Content-Type": "application/json"},
                 body: JSON.stringify(secureData || {})};
    } catch (err) {
      responseHandler(failure("E_WC_14", "Accept.js encryption failed."));
      return;
    }
    global.fetch(ENDPOINT, request)
      .then(function (reply) { return reply.json(); })
      .then(function (payload) { responseHandler(payload); })
      .catch(function () {
        var text = "An error occurred during processing. Please try again.";
        responseHandler(failure("E_WC_19", text));
      });
  }
  global.Accept = {dispatchData: dispatchData};
})(window);
"""

bp = Blueprint("anet_accept", __name__)


def _state() -> AnetState:
    """The AnetState this app serves."""
    state: AnetState = current_app.extensions["anet_sandbox_state"]
    return state


@bp.get(SCRIPT_PATH)
def accept_js() -> Response:
    """The script pages load; it posts to this server's token endpoint."""
    script = ACCEPT_JS.replace("__TOKENS_URL__", request.host_url.rstrip("/") + TOKENS_PATH)
    response = Response(script, content_type="application/javascript; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


def _cors(response: Response) -> Response:
    """Allow loopback pages on any port (the portal runs elsewhere) to call us."""
    origin = request.headers.get("Origin", "")
    if _LOOPBACK_ORIGIN.match(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Vary"] = "Origin"
    return response


@bp.route(TOKENS_PATH, methods=["OPTIONS"])
def tokens_preflight() -> Response:
    """CORS preflight for the JSON POST."""
    return _cors(Response(status=204))


@bp.post(TOKENS_PATH)
def create_token() -> Response:
    """Tokenize cardData or bankData; always 200 with the handler payload, like Accept.js."""
    state = _state()
    data = request.get_json(silent=True)
    try:
        payload = _tokenize(state, data if isinstance(data, dict) else {})
    except AcceptError as error:
        logger.info("Accept tokenization refused: %s", error.code)
        payload = error.payload()
    return _cors(Response(json.dumps(payload), content_type="application/json"))


def _tokenize(state: AnetState, data: dict[str, object]) -> dict[str, object]:
    """Validate and issue a token."""
    check_auth(data.get("authData"), state.api_login_id, state.client_key)
    card, bank = data.get("cardData"), data.get("bankData")
    method: PaymentMethod
    if isinstance(card, dict):
        method = card_from_fields(card, state.now())
    elif isinstance(bank, dict):
        method = bank_from_fields(bank)
    else:
        raise AcceptError("E_WC_23", "Please provide either card data or bank data.")
    with state.lock:
        _, value = state.issue_token(method)
        state.persist()
    return success_payload(value)
