"""Connecting QuickBooks: the OAuth round trip with intuit-oauth against the sandbox, encrypted
token storage, disconnecting and the list of connected companies."""

from __future__ import annotations

import dataclasses
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from portal.config import Settings
from sandbox.qbo import Company, QboSandbox
from sync.accounting import AccountingError
from sync.models import QboConnection
from sync.quickbooks.connection import (
    adapter_for,
    authorization_url,
    connect,
    connected_realms,
    disconnect,
    redirect_uri,
)
from tests.integration.qbo_fixtures import *  # noqa: F403  (fixtures)


def test_the_authorization_url_asks_for_accounting_with_our_callback(qbo_settings: Settings):
    url = authorization_url(qbo_settings, "xyz")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["scope"] == "com.intuit.quickbooks.accounting"
    assert query["state"] == "xyz" and query["response_type"] == "code"
    assert query["redirect_uri"] == "http://127.0.0.1:5000/admin/quickbooks/callback"


def test_a_configured_redirect_uri_wins(qbo_settings: Settings):
    quickbooks = dataclasses.replace(qbo_settings.quickbooks, redirect_uri="https://x.test/cb")
    assert redirect_uri(dataclasses.replace(qbo_settings, quickbooks=quickbooks)) == (
        "https://x.test/cb"
    )


def test_connecting_stores_the_tokens_encrypted_and_disconnecting_revokes_them(
    sandbox: QboSandbox,
    company: Company,
    qbo_settings: Settings,
    sessions: sessionmaker[Session],
    fernet: Fernet,
):
    code, realm = authorize(qbo_settings)  # noqa: F405
    connect(qbo_settings, sessions, fernet, code, realm)
    with sessions() as s:
        row = s.get(QboConnection, realm)
        assert row is not None and not row.needs_reconnect
        access = fernet.decrypt(row.access_token_enc.encode()).decode()
        refresh = fernet.decrypt(row.refresh_token_enc.encode()).decode()
        assert access not in row.access_token_enc and refresh not in row.refresh_token_enc
        assert row.refresh_expires_at is not None
    assert sandbox.state.tokens.authenticate(access) is not None
    assert connected_realms(sessions) == [realm]
    assert adapter_for(qbo_settings, sessions, fernet, realm).get_customer("1").id == "1"

    disconnect(qbo_settings, sessions, fernet, realm)
    assert connected_realms(sessions, include_broken=True) == []
    grant = sandbox.state.tokens.refresh[refresh].grant_id
    assert sandbox.state.tokens.grants[grant].revoked


def test_a_used_authorization_code_is_refused_in_words(
    company: Company, qbo_settings: Settings, sessions: sessionmaker[Session], fernet: Fernet
):
    code, realm = authorize(qbo_settings)  # noqa: F405
    connect(qbo_settings, sessions, fernet, code, realm)
    with pytest.raises(AccountingError, match="did not accept the authorization"):
        connect(qbo_settings, sessions, fernet, code, realm)


def test_reconnecting_replaces_the_tokens_and_clears_needs_reconnect(
    qbo_settings: Settings, sessions: sessionmaker[Session], fernet: Fernet, connected: str
):
    with sessions() as s:
        row = s.get(QboConnection, connected)
        assert row is not None
        row.needs_reconnect = True
        old = row.refresh_token_enc
        s.commit()
    assert connected_realms(sessions) == []
    assert connected_realms(sessions, include_broken=True) == [connected]
    code, realm = authorize(qbo_settings)  # noqa: F405
    connect(qbo_settings, sessions, fernet, code, realm)
    with sessions() as s:
        row = s.get(QboConnection, connected)
        assert row is not None and not row.needs_reconnect and row.refresh_token_enc != old
    assert connected_realms(sessions) == [connected]


def test_disconnecting_when_intuit_is_unreachable_still_forgets_the_tokens(
    qbo_settings: Settings,
    sessions: sessionmaker[Session],
    fernet: Fernet,
    connected: str,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    quickbooks = dataclasses.replace(
        qbo_settings.quickbooks, discovery_url="http://127.0.0.1:9/.well-known/openid"
    )
    with sessions() as s:
        row = s.get(QboConnection, connected)
        assert row is not None
        refresh = fernet.decrypt(row.refresh_token_enc.encode()).decode()
    disconnect(
        dataclasses.replace(qbo_settings, quickbooks=quickbooks), sessions, fernet, connected
    )
    assert connected_realms(sessions, include_broken=True) == []
    assert f"revoking the token of {connected} failed" in caplog.text
    assert refresh not in caplog.text
