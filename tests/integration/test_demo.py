"""`portal demo` runs the product on the bundled QuickBooks sandbox: mirrored invoices."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal import demo as demo_env
from portal.app import create_app
from portal.billing.models import Invoice
from portal.clock import today
from portal.config import Settings
from sync.service import sync_realm
from tests.conftest import login


@pytest.fixture
def demo_app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setitem(os.environ, "OAUTHLIB_INSECURE_TRANSPORT", "1")
    sandbox = demo_env.start_sandbox(settings, 0, customers=6, invoices=40)
    app = create_app(
        {"SETTINGS": demo_env.sandbox_settings(settings, sandbox), "ARGON2_CHEAP": True}
    )
    yield app
    sandbox.stop()
    engine = app.extensions["portal.db"].engine
    from tests.conftest import _wipe

    _wipe(engine)
    engine.dispose()


def test_demo_connects_the_sandbox_mirrors_it_and_logs_a_customer_in(demo_app: Flask):
    with demo_app.app_context():
        realm = demo_env.connect(demo_app, demo_app.config["PORTAL_SETTINGS"])
        run = sync_realm(demo_app, realm)
        assert run is not None and run.error is None
        with db.transaction() as s:
            logins = demo_env.ensure_logins(
                s, demo_app.extensions["portal.account_policy"], today()
            )
        assert [login.username for login, _ in logins] == ["demo", "demo2", "admin"]
        assert db.session().scalar(sa.select(sa.func.count(Invoice.id))) == 40
        # Running the set-up again (a restart) changes nothing and reuses the logins.
        assert demo_env.connect(demo_app, demo_app.config["PORTAL_SETTINGS"]) == realm
        with db.transaction() as s:
            again = demo_env.ensure_logins(s, demo_app.extensions["portal.account_policy"], today())
        assert again == logins
    client = demo_app.test_client()
    demo_login = demo_env.DEMO_LOGINS[0]
    assert login(client, demo_login.username, demo_login.password).status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert logins[0][1] in page  # the mirrored customer's name
    assert "past due" in page
