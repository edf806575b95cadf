"""Connecting QuickBooks (OAuth 2 with intuit-oauth) and the stored, encrypted tokens.

Token refresh is serialized per company: a thread lock within the process and a database
lease across processes, because every refresh rotates the refresh token and a worker that
refreshed with an old one would leave the others holding a token that dies within a day."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from sqlalchemy.orm import Session, sessionmaker

from portal.config import QuickBooksSettings, Settings
from portal.db import utcnow
from sync import lease
from sync.accounting import AccountingError, AuthorizationLost
from sync.models import QboConnection
from sync.quickbooks.adapter import QuickBooksAdapter

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/admin/quickbooks/callback"
# Refresh this long before the access token expires, so no call goes out with a dying one.
REFRESH_MARGIN = timedelta(seconds=60)
DEFAULT_ACCESS_SECONDS = 3600
LEASE_POLL_SECONDS = 0.1

_realm_locks: dict[str, threading.Lock] = {}
_realm_locks_guard = threading.Lock()


class _AuthClient(AuthClient):
    """intuit-oauth's client with a timeout on its requests (it sets none)."""

    def __init__(self, settings: QuickBooksSettings, redirect_uri: str) -> None:
        self.timeout = settings.timeout_seconds  # before the constructor fetches discovery
        super().__init__(
            settings.client_id,
            settings.client_secret,
            redirect_uri,
            environment=settings.discovery_url,
        )

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        response: requests.Response = super().request(method, url, *args, **kwargs)
        return response


def redirect_uri(settings: Settings) -> str:
    """The OAuth callback: configured, or the portal's public URL + the callback path."""
    configured = settings.quickbooks.redirect_uri
    return configured or settings.portal.public_url.rstrip("/") + CALLBACK_PATH


def oauth_client(settings: Settings) -> AuthClient:
    """An intuit-oauth client (its constructor fetches the discovery document)."""
    try:
        return _AuthClient(settings.quickbooks, redirect_uri(settings))
    except (AuthClientError, requests.RequestException, ValueError, KeyError) as exc:
        raise AccountingError(
            "the QuickBooks sign-in service (quickbooks.discovery_url) could not be reached "
            f"or answered badly: {type(exc).__name__}",
            retryable=True,
        ) from exc


def authorization_url(settings: Settings, state: str) -> str:
    """Where to send an admin to connect a QuickBooks company."""
    url: str = oauth_client(settings).get_authorization_url([Scopes.ACCOUNTING], state)
    return url


def connect(
    settings: Settings, sessions: sessionmaker[Session], fernet: Fernet, code: str, realm_id: str
) -> None:
    """Exchange the authorization code and store the company's tokens, encrypted."""
    auth = oauth_client(settings)
    try:
        auth.get_bearer_token(code, realm_id=realm_id)
    except AuthClientError as exc:
        raise AccountingError(
            f"QuickBooks did not accept the authorization (HTTP {exc.status_code}); "
            "start connecting again",
            code=str(exc.status_code),
        ) from None
    except requests.RequestException as exc:
        raise AccountingError(
            f"QuickBooks could not be reached to finish connecting ({type(exc).__name__})",
            retryable=True,
        ) from None
    with sessions() as s:
        row = s.get(QboConnection, realm_id) or QboConnection(realm_id=realm_id)
        _fill(row, fernet, auth)
        row.connected_at = utcnow()
        s.add(row)
        s.commit()
    logger.info("QuickBooks company %s connected", realm_id)


def disconnect(
    settings: Settings, sessions: sessionmaker[Session], fernet: Fernet, realm_id: str
) -> None:
    """Revoke the company's authorization at Intuit (best effort) and forget its tokens."""
    with sessions() as s:
        row = s.get(QboConnection, realm_id)
        if row is None:
            return
        encrypted = row.refresh_token_enc
    try:
        oauth_client(settings).revoke(token=_decrypt(fernet, encrypted))
    except AuthClientError as exc:
        logger.warning("revoking the token of %s failed: HTTP %s", realm_id, exc.status_code)
    except (AccountingError, requests.RequestException, InvalidToken) as exc:
        logger.warning("revoking the token of %s failed: %s", realm_id, type(exc).__name__)
    with sessions() as s:
        s.execute(sa.delete(QboConnection).where(QboConnection.realm_id == realm_id))
        s.commit()
    logger.info("QuickBooks company %s disconnected", realm_id)


def mark_needs_reconnect(sessions: sessionmaker[Session], realm_id: str) -> None:
    """Flag the company (if connected) for an admin to connect again."""
    with sessions() as s:
        row = s.get(QboConnection, realm_id)
        if row is not None:
            row.needs_reconnect = True
            s.commit()


def connected_realms(sessions: sessionmaker[Session], include_broken: bool = False) -> list[str]:
    """Companies with stored tokens; without those an admin must connect again, unless asked."""
    query = sa.select(QboConnection.realm_id).order_by(QboConnection.realm_id)
    if not include_broken:
        query = query.where(~QboConnection.needs_reconnect)
    with sessions() as s:
        return list(s.scalars(query))


def adapter_for(
    settings: Settings,
    sessions: sessionmaker[Session],
    fernet: Fernet,
    realm_id: str,
    sleep: Callable[[float], None] = time.sleep,
) -> QuickBooksAdapter:
    """The adapter of a connected company (tokens are read when the first call needs them)."""
    tokens = StoredTokens(settings, sessions, fernet, realm_id)
    return QuickBooksAdapter(settings.quickbooks, realm_id, tokens, sleep)


def _decrypt(fernet: Fernet, encrypted: str) -> str:
    return fernet.decrypt(encrypted.encode()).decode()


def _encrypt(fernet: Fernet, plain: str) -> str:
    return fernet.encrypt(plain.encode()).decode()


def _fill(row: QboConnection, fernet: Fernet, auth: AuthClient) -> None:
    """Put freshly issued tokens into a connection row."""
    now = utcnow()
    row.access_token_enc = _encrypt(fernet, auth.access_token)
    row.refresh_token_enc = _encrypt(fernet, auth.refresh_token)
    row.access_expires_at = now + timedelta(seconds=int(auth.expires_in or DEFAULT_ACCESS_SECONDS))
    lifetime = auth.x_refresh_token_expires_in
    row.refresh_expires_at = now + timedelta(seconds=int(lifetime)) if lifetime else None
    row.needs_reconnect = False


def _realm_lock(realm_id: str) -> threading.Lock:
    with _realm_locks_guard:
        return _realm_locks.setdefault(realm_id, threading.Lock())


@dataclass(frozen=True)
class _Saved:
    access: str
    refresh: str
    access_expires_at: datetime


class StoredTokens:
    """A company's tokens as stored in qbo_connection; refreshes them one worker at a time."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        fernet: Fernet,
        realm_id: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.fernet = fernet
        self.realm_id = realm_id
        self.clock = clock
        self._saved: _Saved | None = None

    def access_token(self) -> str:
        """A usable access token, refreshed first when it expires within a minute."""
        saved = self._saved
        if saved is None or self._expiring(saved):
            saved = self._load()
        if self._expiring(saved):
            return self._refresh(saved.access)
        return saved.access

    def refresh(self, rejected: str) -> str:
        """A new access token after QuickBooks refused `rejected`."""
        return self._refresh(rejected)

    def _expiring(self, saved: _Saved) -> bool:
        return saved.access_expires_at - self.clock() <= REFRESH_MARGIN

    def _refresh(self, stale: str) -> str:
        with _realm_lock(self.realm_id), self._lease():
            saved = self._load()  # another thread or process may have refreshed meanwhile
            if saved.access != stale and not self._expiring(saved):
                logger.info("access token of %s was already renewed elsewhere", self.realm_id)
                return saved.access
            return self._renew(saved.refresh)

    def _load(self) -> _Saved:
        with self.sessions() as s:
            row = s.get(QboConnection, self.realm_id)
            if row is None:
                raise AuthorizationLost(
                    f"QuickBooks company {self.realm_id} is not connected; connect QuickBooks "
                    "on the admin page"
                )
            if row.needs_reconnect:
                raise self._lost()
            try:
                saved = _Saved(
                    _decrypt(self.fernet, row.access_token_enc),
                    _decrypt(self.fernet, row.refresh_token_enc),
                    row.access_expires_at,
                )
            except InvalidToken:
                raise AuthorizationLost(
                    f"the saved QuickBooks tokens of company {self.realm_id} cannot be decrypted "
                    "with portal.encryption_key; connect QuickBooks again"
                ) from None
        self._saved = saved
        return saved

    def _renew(self, refresh_token: str) -> str:
        """Ask Intuit for new tokens and store them (the rotated refresh token first of all)."""
        auth = oauth_client(self.settings)
        try:
            auth.refresh(refresh_token=refresh_token)
        except AuthClientError as exc:
            if exc.status_code == 400 and b"invalid_grant" in (exc.content or b""):
                self._mark_lost()
                raise self._lost() from None
            raise AccountingError(
                f"QuickBooks sign-in answered HTTP {exc.status_code} when renewing the access "
                f"token of company {self.realm_id}",
                code=str(exc.status_code),
                retryable=exc.status_code >= 500,
            ) from None
        except requests.RequestException as exc:
            raise AccountingError(
                f"QuickBooks sign-in could not be reached to renew the access token "
                f"({type(exc).__name__})",
                retryable=True,
            ) from None
        access = self._store(auth)
        logger.info("access token of %s renewed", self.realm_id)
        return access

    def _store(self, auth: AuthClient) -> str:
        """Commit the new tokens before anyone uses them: the old refresh token is dying."""
        with self.sessions() as s:
            row = s.get(QboConnection, self.realm_id)
            if row is None:
                raise AuthorizationLost(f"QuickBooks company {self.realm_id} was disconnected")
            _fill(row, self.fernet, auth)
            s.commit()
            self._saved = _Saved(auth.access_token, auth.refresh_token, row.access_expires_at)
        return self._saved.access

    def _mark_lost(self) -> None:
        mark_needs_reconnect(self.sessions, self.realm_id)
        logger.error("QuickBooks refused the refresh token of %s; reconnect needed", self.realm_id)

    def _lost(self) -> AuthorizationLost:
        return AuthorizationLost(
            f"QuickBooks refused the saved connection to company {self.realm_id} (it was "
            "revoked or has expired); an administrator must connect QuickBooks again"
        )

    @contextmanager
    def _lease(self) -> Iterator[None]:
        """Hold the company's token lease, waiting while another process refreshes."""
        name, holder = f"qbo-token:{self.realm_id}", lease.holder_id()
        ttl = timedelta(seconds=2 * self.settings.quickbooks.timeout_seconds + 10)
        deadline = time.monotonic() + ttl.total_seconds()
        while not lease.acquire(self.sessions, name, holder, ttl):
            if time.monotonic() > deadline:
                raise AccountingError(
                    f"another worker has been renewing the QuickBooks token of {self.realm_id} "
                    "for too long",
                    retryable=True,
                )
            time.sleep(LEASE_POLL_SECONDS)
        try:
            yield
        finally:
            lease.release(self.sessions, name, holder)
