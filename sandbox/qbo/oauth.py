"""Intuit OAuth 2 routes: discovery, auto-approving authorize, token, revoke, userinfo, JWKS.

Paths mirror Intuit's hosts: /connect/oauth2 (appcenter), /oauth2/v1/tokens/bearer,
/v2/oauth2/tokens/revoke, /v1/openid_connect/userinfo, /op/v1/jwks. The authorize
endpoint accepts a sandbox-only ``realmId`` parameter to pick the company; otherwise the
default company (the first one created) is connected.
"""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from .state import SandboxState
from .tokens import OAuthError
from .util import loads

logger = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid_configuration"
AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
JWKS_PATH = "/op/v1/jwks"
ISSUER_PATH = "/op/v1"

bp = Blueprint("qbo_oauth", __name__)


def _state() -> SandboxState:
    """The SandboxState of the running app."""
    state: SandboxState = current_app.extensions["qbo_sandbox_state"]
    return state


def _oauth_error(error: str, status: int = 400) -> Response:
    """An RFC 6749 JSON error reply."""
    response = jsonify({"error": error})
    response.status_code = status
    return response


def _client_credentials() -> tuple[str, str] | None:
    """Decode HTTP Basic client credentials, if present."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _authenticated_client(state: SandboxState) -> str:
    """The client id from valid Basic credentials, else OAuthError invalid_client."""
    credentials = _client_credentials()
    if credentials is None or not state.tokens.check_client(*credentials):
        raise OAuthError("invalid_client", 401)
    return credentials[0]


@bp.get(DISCOVERY_PATH)
def discovery() -> Response:
    """The OpenID discovery document intuit-oauth reads in its constructor."""
    base = request.host_url.rstrip("/")
    return jsonify(
        {
            "issuer": base + ISSUER_PATH,
            "authorization_endpoint": base + AUTHORIZE_PATH,
            "token_endpoint": base + TOKEN_PATH,
            "revocation_endpoint": base + REVOKE_PATH,
            "userinfo_endpoint": base + USERINFO_PATH,
            "jwks_uri": base + JWKS_PATH,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }
    )


@bp.get(AUTHORIZE_PATH)
def authorize() -> Response:
    """Auto-approve: redirect back with code, state and realmId."""
    state = _state()
    client_id = request.args.get("client_id", "")
    redirect_uri = request.args.get("redirect_uri", "")
    if client_id not in state.tokens.clients or not redirect_uri:
        return Response("unknown client_id or missing redirect_uri", 400, mimetype="text/plain")
    params = {"state": request.args.get("state", "")}
    if request.args.get("response_type") != "code":
        params["error"] = "unsupported_response_type"
    else:
        with state.lock:
            realm_id = request.args.get("realmId") or state.default_realm_id
            if realm_id is None:
                realm_id = state.add_company().realm_id
            elif realm_id not in state.companies:
                state.add_company(realm_id)
        scope = request.args.get("scope", "")
        params["code"] = state.tokens.issue_code(client_id, redirect_uri, realm_id, scope)
        params["realmId"] = realm_id
    separator = "&" if "?" in redirect_uri else "?"
    location = f"{redirect_uri}{separator}{urlencode(params)}"
    return Response(status=302, headers={"Location": location})


@bp.post(TOKEN_PATH)
def token() -> Response:
    """authorization_code and refresh_token grants; never returns an id_token."""
    state = _state()
    try:
        client_id = _authenticated_client(state)
        grant_type = request.form.get("grant_type")
        if grant_type == "authorization_code":
            reply = state.tokens.exchange_code(
                client_id, request.form.get("code", ""), request.form.get("redirect_uri", "")
            )
        elif grant_type == "refresh_token":
            reply = state.tokens.refresh_grant(client_id, request.form.get("refresh_token", ""))
        else:
            raise OAuthError("unsupported_grant_type")
    except OAuthError as exc:
        logger.info("token request refused: %s", exc.error)
        return _oauth_error(exc.error, exc.status)
    response = jsonify(reply)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post(REVOKE_PATH)
def revoke() -> Response:
    """Revoke the connection behind an access or refresh token (JSON {"token"})."""
    state = _state()
    try:
        client_id = _authenticated_client(state)
    except OAuthError as exc:
        return _oauth_error(exc.error, exc.status)
    try:
        body = loads(request.get_data() or b"{}")
    except ValueError:
        body = {}
    token_value = body.get("token") if isinstance(body, dict) else None
    if not token_value:
        token_value = request.form.get("token")
    if not token_value:
        return _oauth_error("invalid_request")
    state.tokens.revoke(client_id, str(token_value))
    return Response(b"", 200)


@bp.get(USERINFO_PATH)
def userinfo() -> Response:
    """A fixed sandbox user for any live access token."""
    header = request.headers.get("Authorization", "")
    grant = _state().tokens.authenticate(header[7:].strip()) if len(header) > 7 else None
    if grant is None:
        return _oauth_error("invalid_token", 401)
    return jsonify(
        {
            "sub": f"sandbox-user-{grant.realm_id}",
            "email": "sandbox.user@example.com",
            "emailVerified": True,
            "givenName": "Sandbox",
            "familyName": "User",
        }
    )


@bp.get(JWKS_PATH)
def jwks() -> Response:
    """No signing keys: the sandbox never issues id_tokens."""
    return jsonify({"keys": []})
