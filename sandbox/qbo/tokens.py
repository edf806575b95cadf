"""OAuth 2 grants, authorization codes, access and refresh tokens, judged by the sandbox clock."""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from .util import random_token

ACCESS_TOKEN_TTL = timedelta(seconds=3600)
REFRESH_TOKEN_TTL = timedelta(seconds=8726400)
REFRESH_GRACE = timedelta(hours=24)
CODE_TTL = timedelta(minutes=10)


class OAuthError(Exception):
    """An RFC 6749 error reply: {"error": code} with an HTTP status."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


@dataclass
class Grant:
    """One app connection to one company; revoking it kills all of its tokens."""

    grant_id: str
    client_id: str
    realm_id: str
    scope: str
    revoked: bool = False


@dataclass
class TokenRecord:
    """An access or refresh token and when it stops working."""

    value: str
    grant_id: str
    expires_at: datetime


@dataclass
class AuthCode:
    """A one-time authorization code from the authorize endpoint."""

    value: str
    client_id: str
    redirect_uri: str
    realm_id: str
    scope: str
    expires_at: datetime
    used: bool = False


class TokenStore:
    """Issues and checks tokens. Thread-safe; all times come from the injected clock."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.clients: dict[str, str] = {}
        self.grants: dict[str, Grant] = {}
        self.codes: dict[str, AuthCode] = {}
        self.access: dict[str, TokenRecord] = {}
        self.refresh: dict[str, TokenRecord] = {}
        self.version = 0  # bumped by every change, so the state file knows when to save

    def register_client(self, client_id: str, client_secret: str) -> None:
        """Allow an app (client id/secret pair) to use the OAuth endpoints."""
        with self._lock:
            self.clients[client_id] = client_secret
            self.version += 1

    def check_client(self, client_id: str, client_secret: str) -> bool:
        """True when the pair is registered (constant-time secret comparison)."""
        expected = self.clients.get(client_id)
        return expected is not None and hmac.compare_digest(expected, client_secret)

    def issue_code(self, client_id: str, redirect_uri: str, realm_id: str, scope: str) -> str:
        """Mint a short-lived one-time authorization code."""
        with self._lock:
            code = AuthCode(
                random_token(40, "AB11"),
                client_id,
                redirect_uri,
                realm_id,
                scope,
                self._clock() + CODE_TTL,
            )
            self.codes[code.value] = code
            self.version += 1
            return code.value

    def exchange_code(self, client_id: str, code: str, redirect_uri: str) -> dict[str, Any]:
        """The authorization_code grant."""
        with self._lock:
            record = self.codes.get(code)
            if (
                record is None
                or record.used
                or record.client_id != client_id
                or record.redirect_uri != redirect_uri
                or record.expires_at <= self._clock()
            ):
                raise OAuthError("invalid_grant")
            record.used = True
            self.version += 1
            grant = Grant(random_token(16), client_id, record.realm_id, record.scope)
            self.grants[grant.grant_id] = grant
            return self._mint(grant)

    def refresh_grant(self, client_id: str, refresh_token: str) -> dict[str, Any]:
        """The refresh_token grant: rotate; the presented token survives at most 24 h more."""
        with self._lock:
            now = self._clock()
            record = self.refresh.get(refresh_token)
            grant = self.grants.get(record.grant_id) if record else None
            if record is None or grant is None or grant.revoked or record.expires_at <= now:
                raise OAuthError("invalid_grant")
            if grant.client_id != client_id:
                raise OAuthError("invalid_grant")
            record.expires_at = min(record.expires_at, now + REFRESH_GRACE)
            self.version += 1
            return self._mint(grant)

    def issue_for(self, realm_id: str, client_id: str, scope: str = "") -> dict[str, Any]:
        """Connect an app to a company without the browser dance (test/dev helper)."""
        with self._lock:
            grant = Grant(random_token(16), client_id, realm_id, scope)
            self.grants[grant.grant_id] = grant
            return {**self._mint(grant), "realm_id": realm_id}

    def revoke(self, client_id: str, token: str) -> None:
        """Revoke the whole connection that an access or refresh token belongs to."""
        with self._lock:
            record = self.refresh.get(token) or self.access.get(token)
            grant = self.grants.get(record.grant_id) if record else None
            if grant is not None and grant.client_id == client_id:
                grant.revoked = True
                self.version += 1

    def authenticate(self, bearer: str) -> Grant | None:
        """Return the live grant behind an access token, or None if unusable."""
        with self._lock:
            record = self.access.get(bearer)
            if record is None or record.expires_at <= self._clock():
                return None
            grant = self.grants.get(record.grant_id)
            if grant is None or grant.revoked:
                return None
            return grant

    def expire_access_tokens(self, realm_id: str | None = None) -> int:
        """Make current access tokens expired right now."""
        with self._lock:
            now = self._clock()
            hits = [t for t in self.access.values() if self._in_realm(t, realm_id)]
            for token in hits:
                token.expires_at = min(token.expires_at, now)
            self.version += 1
            return len(hits)

    def revoke_refresh_tokens(self, realm_id: str | None = None) -> int:
        """Make current refresh tokens unusable (invalid_grant) without touching access."""
        with self._lock:
            hits = [t for t in self.refresh.values() if self._in_realm(t, realm_id)]
            for token in hits:
                del self.refresh[token.value]
            self.version += 1
            return len(hits)

    def _in_realm(self, token: TokenRecord, realm_id: str | None) -> bool:
        """True if the token belongs to realm_id (or realm_id is None)."""
        grant = self.grants.get(token.grant_id)
        return realm_id is None or (grant is not None and grant.realm_id == realm_id)

    def _mint(self, grant: Grant) -> dict[str, Any]:
        """Create a fresh access/refresh pair and the token endpoint reply."""
        now = self._clock()
        access = TokenRecord(random_token(120, "eyJ"), grant.grant_id, now + ACCESS_TOKEN_TTL)
        refresh = TokenRecord(random_token(46, "RT1"), grant.grant_id, now + REFRESH_TOKEN_TTL)
        self.access[access.value] = access
        self.refresh[refresh.value] = refresh
        self.version += 1
        return {
            "token_type": "bearer",
            "access_token": access.value,
            "refresh_token": refresh.value,
            "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
            "x_refresh_token_expires_in": int(REFRESH_TOKEN_TTL.total_seconds()),
        }

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the state file (tokens and codes that can no longer be used are left
        out: unknown and expired are refused alike)."""
        with self._lock:
            now = self._clock()
            return {
                "clients": dict(self.clients),
                "grants": [asdict(g) for g in self.grants.values()],
                "codes": [
                    {**asdict(c), "expires_at": c.expires_at.isoformat()}
                    for c in self.codes.values()
                    if not c.used and c.expires_at > now
                ],
                "access": [_token_dict(t) for t in self.access.values() if t.expires_at > now],
                "refresh": [_token_dict(t) for t in self.refresh.values() if t.expires_at > now],
            }

    def load_dict(self, data: dict[str, Any]) -> None:
        """Restore from the state file: its grants, codes and tokens replace ours."""
        with self._lock:
            self.clients.update(data.get("clients", {}))
            self.grants = {raw["grant_id"]: Grant(**raw) for raw in data.get("grants", [])}
            self.codes = {}
            for raw in data.get("codes", []):
                code = AuthCode(**{**raw, "expires_at": datetime.fromisoformat(raw["expires_at"])})
                self.codes[code.value] = code
            self.access = _tokens(data.get("access", []))
            self.refresh = _tokens(data.get("refresh", []))
            self.version += 1


def _tokens(raws: list[dict[str, str]]) -> dict[str, TokenRecord]:
    """Token records by value, read back from the state file."""
    records = (
        TokenRecord(raw["value"], raw["grant_id"], datetime.fromisoformat(raw["expires_at"]))
        for raw in raws
    )
    return {record.value: record for record in records}


def _token_dict(token: TokenRecord) -> dict[str, str]:
    """Serialize a token record."""
    return {
        "value": token.value,
        "grant_id": token.grant_id,
        "expires_at": token.expires_at.isoformat(),
    }
