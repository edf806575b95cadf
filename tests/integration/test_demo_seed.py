"""`portal demo` started today shows a believable company, on the port it runs on, and a
restarted demo carries on from its state files instead of seeding again."""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from portal import db
from portal import demo as demo_env
from portal.app import create_app
from portal.billing.models import Customer, Invoice
from portal.cli import main
from portal.clock import today
from portal.config import Settings
from portal.overdue.ladder import OverdueState, account_status
from sandbox.qbo import QboSandbox
from sync.quickbooks.connection import redirect_uri
from sync.service import sync_realm
from tests.conftest import Mailbox, _wipe, login, post_form, write_config


@pytest.fixture
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environ, "OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def demo_company(settings: Settings, insecure_transport: None) -> Iterator[Flask]:
    """The demo company as `portal demo` seeds it (its default size), mirrored once."""
    sandbox = demo_env.start_sandbox(settings, 0, customers=40, invoices=400)
    sandbox.state.faults.throttle_limit = None
    app = create_app(
        {"SETTINGS": demo_env.sandbox_settings(settings, sandbox), "ARGON2_CHEAP": True}
    )
    with app.app_context():
        realm = demo_env.connect(app, app.config["PORTAL_SETTINGS"])
        assert sync_realm(app, realm).error is None
    yield app
    sandbox.stop()
    _wipe(app.extensions["portal.db"].engine)
    app.extensions["portal.db"].engine.dispose()


def test_the_demo_company_started_today_has_accounts_at_every_step_and_bills_coming_due(
    demo_company: Flask, settings: Settings
) -> None:
    day = today()
    with demo_company.app_context():
        s = db.session()
        customers = s.scalars(sa.select(Customer.id)).all()
        steps = Counter(account_status(s, cid, day, settings).name for cid in customers)
        invoices = s.scalars(sa.select(Invoice)).all()
    assert set(steps) == set(OverdueState)
    assert steps[OverdueState.CURRENT] > len(customers) / 2  # most customers pay
    open_ = [i for i in invoices if i.balance > 0 and i.due_date is not None]
    coming = [i for i in open_ if day <= i.due_date <= day + timedelta(days=28)]
    just_overdue = [i for i in open_ if day - timedelta(days=10) <= i.due_date < day]
    assert len(coming) >= 3
    assert just_overdue
    # nothing has been turned off for months: the oldest unpaid bill is recent
    cutoff = settings.overdue.suspend_days + 10
    assert min(i.due_date for i in open_) >= day - timedelta(days=cutoff)


def test_the_first_demo_login_is_warned_with_its_turn_off_date(demo_company: Flask) -> None:
    with demo_company.app_context(), db.transaction() as s:
        logins = demo_env.ensure_logins(
            s, demo_company.extensions["portal.account_policy"], today()
        )
    client = demo_company.test_client()
    first = demo_env.DEMO_LOGINS[0]
    assert login(client, first.username, first.password).status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert logins[0][1] in page
    assert 'data-testid="turn-off-date"' in page
    assert "Service will be turned off on" in page

    # The demo's admin signs in with the printed key's code, as staff must.
    admin = demo_env.DEMO_LOGINS[2]
    assert admin.app_key
    staff = demo_company.test_client()
    first_step = post_form(
        staff, "/login", {"identifier": admin.username, "password": admin.password}
    )
    assert first_step.headers["Location"].endswith("/login/verify")
    code = pyotp.TOTP(admin.app_key).now()
    done = post_form(staff, "/login/verify", {"method": "app", "code": code})
    assert done.headers["Location"] == "/admin/"


def test_a_restarted_demo_carries_on_from_its_state_files(
    settings: Settings, insecure_transport: None
) -> None:
    sandbox = demo_env.start_sandbox(settings, 0, customers=4, invoices=30)
    anet = demo_env.start_anet(0, settings)
    company = sandbox.state.companies[demo_env.DEMO_REALM]
    invoices = dict(company.rows["Invoice"])
    payment = pay_over_http(sandbox, next(i for i in invoices.values() if i["Balance"] > 0))
    charge = anet.state.seed_charge(
        amount=company.rows["Invoice"]["1"]["TotalAmt"], invoice_number="D-1"
    )
    anet.state.mark_changed()
    anet.state.persist()
    # no stop: what a crash leaves behind is what the next start reads
    again = demo_env.start_sandbox(settings, 0, customers=4, invoices=30)
    anet_again = demo_env.start_anet(0, settings)
    try:
        kept = again.state.companies[demo_env.DEMO_REALM]
        assert kept.rows["Invoice"].keys() == invoices.keys()  # not seeded a second time
        assert kept.rows["Payment"][payment["Id"]]["TotalAmt"] == payment["TotalAmt"]
        assert kept.new_id("Payment") == str(int(payment["Id"]) + 1)
        assert anet_again.state.transactions[charge.trans_id].invoice_number == "D-1"
        assert int(anet_again.state.next_id("trans")) == int(charge.trans_id) + 1
        assert (settings.instance / demo_env.ANET_STATE_FILE).exists()
    finally:
        for server in (again, anet_again, sandbox, anet):
            server.stop()


def pay_over_http(sandbox: QboSandbox, invoice: dict[str, Any]) -> dict[str, Any]:
    tokens = sandbox.state.connect(demo_env.DEMO_REALM)
    reply = requests.post(
        f"{sandbox.api_base_url}/company/{demo_env.DEMO_REALM}/payment",
        params={"minorversion": "75"},
        json={
            "CustomerRef": invoice["CustomerRef"],
            "TotalAmt": "3.00",
            "Line": [
                {"Amount": "3.00", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
        headers={"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["Payment"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_portal_demo_links_and_oauth_callback_use_its_port_and_a_restart_continues(
    tmp_path: Path,
    database_url: str,
    insecure_transport: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(os.environ, "PORTAL_CONFIG", str(write_config(tmp_path, database_url)))
    served: list[Flask] = []
    monkeypatch.setattr(
        "werkzeug.serving.run_simple", lambda host, port, app, **_: served.append(app)
    )
    port = free_port()
    args = ["demo", "--port", str(port), "--qbo-port", "0", "--anet-port", "0", "--sms-port", "0"]
    args += ["--customers", "5", "--invoices", "40"]
    try:
        first = CliRunner().invoke(main, args)
        assert first.exit_code == 0, first.output
        assert f"http://127.0.0.1:{port}/login" in first.output
        app = served[0]
        settings: Settings = app.config["PORTAL_SETTINGS"]
        assert redirect_uri(settings).startswith(f"http://127.0.0.1:{port}/")
        client = app.test_client()
        post_form(client, "/forgot-password", {"identifier": "demo"})
        assert (
            Mailbox(settings.mailbox)
            .last_link()
            .startswith(f"http://127.0.0.1:{port}/reset-password/")
        )
        for name in (
            demo_env.QBO_STATE_FILE,
            demo_env.ANET_STATE_FILE,
            demo_env.TWILIO_STATE_FILE,
        ):
            assert (tmp_path / name).exists()
        assert "portal.sms" in app.extensions  # texts go through the Twilio sandbox

        # started again: the same company, and the tokens it was connected with still work
        second = CliRunner().invoke(main, args)
        assert second.exit_code == 0, second.output
        assert "incremental sync succeeded, 0 new" in second.output
    finally:
        for app in served:
            _wipe(app.extensions["portal.db"].engine)
            app.extensions["portal.db"].engine.dispose()
