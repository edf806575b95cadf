"""The admin QuickBooks page against the sandbox: connect, sync, errors in words, disconnect."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import Role
from portal.app import create_app
from portal.billing.models import Invoice
from portal.config import Settings
from sandbox.qbo import Company, QboSandbox
from sync.models import QboConnection
from sync.service import sync_realm
from tests.conftest import login, post_form
from tests.integration.qbo_fixtures import *  # noqa: F403  (sandbox, company, qbo_settings, ...)


@pytest.fixture
def qbo_app(qbo_settings: Settings, app: Flask, monkeypatch) -> Iterator[Flask]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    wired = create_app({"SETTINGS": qbo_settings, "ARGON2_CHEAP": True})
    yield wired
    wired.extensions["portal.db"].engine.dispose()


@pytest.fixture
def admin(qbo_app: Flask, make_user) -> FlaskClient:
    make_user("boss", role=Role.ADMIN)
    client = qbo_app.test_client()
    login(client, "boss")
    return client


def connect_through_the_page(admin: FlaskClient) -> str:
    """Press Connect, let the sandbox approve, come back to the callback; the realm id."""
    to_intuit = post_form(admin, "/admin/quickbooks/connect", {}, page="/admin/quickbooks")
    assert to_intuit.status_code == 302
    approved = requests.get(to_intuit.headers["Location"], allow_redirects=False, timeout=5)
    back = urlsplit(approved.headers["Location"])
    assert back.path == "/admin/quickbooks/callback"
    done = admin.get(f"{back.path}?{back.query}")
    assert done.status_code == 302
    return dict(p.split("=", 1) for p in back.query.split("&"))["realmId"]


def test_admin_connects_quickbooks_and_the_first_sync_mirrors_it(
    qbo_app: Flask, admin: FlaskClient, company: Company
):
    realm = connect_through_the_page(admin)
    assert realm == company.realm_id
    page = admin.get("/admin/quickbooks").get_data(as_text=True)
    assert "is connected" in page and f"Company ID {realm}" in page
    with qbo_app.app_context():
        row = db.session().get(QboConnection, realm)
        assert row is not None and "." not in row.refresh_token_enc[:10]
        run = sync_realm(qbo_app, realm)  # what the worker does for the requested sync
        assert run is not None and run.error is None
        assert db.session().scalar(sa.select(sa.func.count(Invoice.id))) == 30


def test_callback_with_a_forged_state_connects_nothing(qbo_app: Flask, admin: FlaskClient):
    response = admin.get("/admin/quickbooks/callback?code=abc&state=forged&realmId=1")
    assert response.status_code == 302
    assert "did not match" in admin.get("/admin/quickbooks").get_data(as_text=True)
    with qbo_app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(QboConnection)) == 0


def test_refused_authorization_is_reported(admin: FlaskClient):
    admin.get("/admin/quickbooks/callback?error=access_denied&state=x")
    assert "did not connect: access_denied" in admin.get("/admin/quickbooks").get_data(as_text=True)


def test_revoked_connection_shows_the_error_in_words_on_the_page(
    qbo_app: Flask, admin: FlaskClient, company: Company, sandbox: QboSandbox
):
    realm = connect_through_the_page(admin)
    sandbox.state.faults.revoke_refresh_tokens()
    sandbox.state.faults.expire_access_tokens()
    with qbo_app.app_context():
        run = sync_realm(qbo_app, realm)
    assert run is not None and run.error is not None
    page = admin.get("/admin/quickbooks").get_data(as_text=True)
    assert "connect QuickBooks again" in page
    assert "QuickBooks refused the saved connection" in page


def test_disconnect_revokes_and_forgets_the_tokens(
    qbo_app: Flask, admin: FlaskClient, company: Company
):
    realm = connect_through_the_page(admin)
    response = post_form(
        admin,
        "/admin/quickbooks/disconnect",
        {"realm_id": realm, "confirm": "1"},
        page="/admin/quickbooks",
    )
    assert response.status_code == 302
    with qbo_app.app_context():
        assert db.session().get(QboConnection, realm) is None
    assert "No QuickBooks company is connected" in admin.get("/admin/quickbooks").get_data(
        as_text=True
    )


def test_disconnecting_asks_first_and_changes_nothing_until_confirmed(
    qbo_app: Flask, admin: FlaskClient, company: Company
):
    realm = connect_through_the_page(admin)
    asked = post_form(
        admin, "/admin/quickbooks/disconnect", {"realm_id": realm}, page="/admin/quickbooks"
    )
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert f"Disconnect QuickBooks company {realm} from the portal?" in page
    assert 'name="confirm" value="1"' in page and f'name="realm_id" value="{realm}"' in page
    with qbo_app.app_context():
        assert db.session().get(QboConnection, realm) is not None
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    confirmed = {"csrf_token": token, "realm_id": realm, "confirm": "1"}
    done = admin.post("/admin/quickbooks/disconnect", data=confirmed)
    assert done.status_code == 302
    with qbo_app.app_context():
        assert db.session().get(QboConnection, realm) is None
