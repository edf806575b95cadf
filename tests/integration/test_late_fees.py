"""Late fees: charged once per invoice and period, shown at once, written to QuickBooks once."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

import sync.handlers  # noqa: F401  (registers the write-back handlers)
from portal import demo as demo_env
from portal import outbox as portal_outbox
from portal.accounts.models import Role
from portal.app import create_app
from portal.billing.models import CatalogItem, Customer, Invoice
from portal.config import Settings, load_settings
from portal.outbox import OutboxMessage, OutboxStatus
from portal.overdue import fees as fees_module
from portal.overdue.fees import apply_late_fees, unpaid_fees
from portal.overdue.models import LateFee, LateFeePolicyRow
from sync import outbox
from sync.accounting import AccountingError, Entity, InvoiceRecord
from sync.fake import FakeAccounting
from sync.mirror import Mirror, MirrorSettings
from sync.quickbooks.connection import adapter_for
from sync.service import sync_realm, write_back
from tests import records as rec
from tests.conftest import _wipe, login, post_form, write_config

FIRST_FEE_DAY = date(2026, 2, 15)  # invoices are due 2026-02-04; ten grace days


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Late fees on, everything else as configured by default."""
    path = write_config(tmp_path, database_url, late_fees={"enabled": "true"})
    return load_settings(path, environ={})


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    return app.extensions["portal.db"].sessions


@pytest.fixture
def qbo(sessions) -> FakeAccounting:
    """A company with the "Late fee" item, two overdue invoices and a paid one, mirrored."""
    fake = FakeAccounting("test")
    fake.put(rec.item("1", "Monthly service"))
    fake.put(rec.item("2", "Late fee", "25.00"))
    fake.put(rec.customer("c1", "Ada", "150.00"))
    fake.put(rec.customer("c2", "Grace", "80.00"))
    fake.put(rec.invoice("i1", "c1", "100.00"))
    fake.put(rec.invoice("i2", "c1", "50.00", "0.00"))
    fake.put(rec.invoice("i3", "c2", "80.00"))
    mirror_all(fake, sessions)
    return fake


def mirror_all(qbo: FakeAccounting, sessions) -> None:
    run = Mirror(qbo, sessions, MirrorSettings(), clock=lambda: qbo.now).run()
    assert run.error is None


def charge(app: Flask, today: date, **policy) -> fees_module.FeeRun:
    settings: Settings = app.config["PORTAL_SETTINGS"]
    section = dataclasses.replace(settings.late_fees, **policy)
    settings = dataclasses.replace(settings, late_fees=section)
    return apply_late_fees(app.extensions["portal.db"].sessions, settings, today)


def drain(sessions, adapter) -> outbox.DrainResult:
    return outbox.drain(sessions, lambda realm: adapter)


def fee_lines(qbo: FakeAccounting, invoice_id: str) -> list[str]:
    invoice = qbo.rows[Entity.INVOICE][invoice_id]
    assert isinstance(invoice, InvoiceRecord)
    return [ln.description for ln in invoice.lines if (ln.description or "").startswith("Late fee")]


def mirrored(sessions, qbo_id: str) -> Invoice:
    with sessions() as s:
        invoice = s.scalar(sa.select(Invoice).where(Invoice.qbo_id == qbo_id))
        invoice.lines  # noqa: B018  (loaded before the session closes)
        s.expunge(invoice)
        return invoice


def count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def test_running_the_job_twice_charges_each_overdue_invoice_once(app, sessions, qbo):
    first = charge(app, FIRST_FEE_DAY)
    again = charge(app, FIRST_FEE_DAY)
    assert (first.added, again.added) == (2, 0)  # i1 and i3; i2 is paid
    assert count(sessions, LateFee) == 2 and count(sessions, OutboxMessage) == 2
    assert drain(sessions, qbo).done == 2
    assert drain(sessions, qbo).done == 0
    assert fee_lines(qbo, "i1") == ["Late fee for overdue invoice Di1"]
    assert qbo.rows[Entity.INVOICE]["i1"].balance == Decimal("125.00")
    assert fee_lines(qbo, "i2") == []


def test_no_fee_is_charged_within_the_grace_days_or_when_fees_are_off(app, sessions, qbo):
    assert charge(app, date(2026, 2, 14)).added == 0
    assert charge(app, FIRST_FEE_DAY, enabled=False).added == 0
    assert count(sessions, LateFee) == 0


def test_the_fee_shows_at_once_in_the_mirrored_balance_as_a_labelled_line(app, sessions, qbo):
    charge(app, FIRST_FEE_DAY)
    invoice = mirrored(sessions, "i1")
    assert (invoice.total_amt, invoice.balance) == (Decimal("125.00"), Decimal("125.00"))
    last = invoice.lines[-1]
    assert (last.item_name, last.description, last.amount) == (
        "Late fee",
        "Late fee for overdue invoice Di1",
        Decimal("25.00"),
    )
    with sessions() as s:
        assert s.scalar(sa.select(Customer.balance).where(Customer.qbo_id == "c1")) == Decimal(
            "175.00"
        )
        customer_id = s.scalar(sa.select(Customer.id).where(Customer.qbo_id == "c1"))
        assert unpaid_fees(s, customer_id) == Decimal("25.00")
    drain(sessions, qbo)
    mirror_all(qbo, sessions)  # QuickBooks' own line replaces the optimistic one
    invoice = mirrored(sessions, "i1")
    assert invoice.balance == Decimal("125.00")
    assert [ln.description for ln in invoice.lines].count("Late fee for overdue invoice Di1") == 1


class LosesTheAnswer:
    """QuickBooks applies the write, then the answer is lost (a crash or a timeout)."""

    def __init__(self, fake: FakeAccounting) -> None:
        self.fake, self.realm_id, self.lost = fake, fake.realm_id, False

    def __getattr__(self, name: str):
        return getattr(self.fake, name)

    def add_invoice_line(self, *args, **kwargs):
        saved = self.fake.add_invoice_line(*args, **kwargs)
        if not self.lost:
            self.lost = True
            raise AccountingError("connection reset after the write", retryable=True)
        return saved


def test_a_crash_between_the_committed_fee_and_the_write_back_is_written_once(app, sessions, qbo):
    charge(app, FIRST_FEE_DAY)
    flaky = LosesTheAnswer(qbo)
    assert drain(sessions, flaky).retried >= 1
    with sessions() as s:  # the back-off is over
        s.execute(sa.update(OutboxMessage).values(next_attempt_at=OutboxMessage.created_at))
        s.commit()
    drain(sessions, flaky)
    assert charge(app, FIRST_FEE_DAY).added == 0
    drain(sessions, flaky)
    assert fee_lines(qbo, "i1") == ["Late fee for overdue invoice Di1"]
    assert fee_lines(qbo, "i3") == ["Late fee for overdue invoice Di3"]
    with sessions() as s:
        assert all(m.status is OutboxStatus.DONE for m in s.scalars(sa.select(OutboxMessage)))
        assert all(f.written_at is not None for f in s.scalars(sa.select(LateFee)))


def test_a_job_that_dies_midway_keeps_whole_fees_and_the_next_run_adds_the_rest(
    app, sessions, qbo, monkeypatch
):
    enqueue = portal_outbox.enqueue
    calls = []

    def dies_on_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return enqueue(*args, **kwargs)

    monkeypatch.setattr(fees_module.outbox, "enqueue", dies_on_the_second)
    with pytest.raises(RuntimeError):
        charge(app, FIRST_FEE_DAY)
    assert count(sessions, LateFee) == 1 and count(sessions, OutboxMessage) == 1
    assert mirrored(sessions, "i3").balance == Decimal("80.00")  # rolled back whole
    monkeypatch.setattr(fees_module.outbox, "enqueue", enqueue)
    assert charge(app, FIRST_FEE_DAY).added == 1
    assert drain(sessions, qbo).done == 2
    assert len(fee_lines(qbo, "i1")) == len(fee_lines(qbo, "i3")) == 1


def test_a_monthly_policy_charges_again_the_next_month(app, sessions, qbo):
    assert charge(app, FIRST_FEE_DAY, frequency="monthly").added == 2
    assert charge(app, date(2026, 3, 14), frequency="monthly").added == 0
    assert charge(app, date(2026, 3, 15), frequency="monthly").added == 2
    assert charge(app, date(2026, 3, 31), frequency="monthly").added == 0
    drain(sessions, qbo)
    assert fee_lines(qbo, "i1") == ["Late fee for 2026-02", "Late fee for 2026-03"]
    assert mirrored(sessions, "i1").balance == Decimal("150.00")


def test_a_percentage_is_charged_on_the_overdue_balance_not_on_earlier_fees(app, sessions, qbo):
    policy = {"kind": "percent", "percent": "10.00", "frequency": "monthly", "cap": "9.50"}
    charge(app, FIRST_FEE_DAY, **policy)
    charge(app, date(2026, 3, 15), **policy)
    with sessions() as s:
        amounts = s.scalars(
            sa.select(LateFee.amount).join(Invoice).where(Invoice.qbo_id == "i1")
        ).all()
    assert amounts == [Decimal("9.50"), Decimal("9.50")]  # 10% of 100.00, capped, twice


def test_unpaid_fees_are_capped_by_what_is_left_on_each_invoice(app, sessions, qbo):
    charge(app, FIRST_FEE_DAY)
    with sessions() as s:
        customer_id = s.scalar(sa.select(Customer.id).where(Customer.qbo_id == "c1"))
        invoice = s.scalar(sa.select(Invoice).where(Invoice.qbo_id == "i1"))
        assert unpaid_fees(s, customer_id) == Decimal("25.00")
        invoice.balance = Decimal("10.00")
        s.flush()
        assert unpaid_fees(s, customer_id) == Decimal("10.00")
        invoice.balance = Decimal("0.00")
        s.flush()
        assert unpaid_fees(s, customer_id) == Decimal("0.00")


def test_without_the_fee_item_in_quickbooks_nothing_is_charged_and_the_job_says_why(
    app, sessions, qbo
):
    with sessions() as s:
        s.execute(sa.delete(CatalogItem).where(CatalogItem.name == "Late fee"))
        s.commit()
    run = charge(app, FIRST_FEE_DAY)
    assert run.added == 0 and count(sessions, LateFee) == 0
    assert "no active service item named 'Late fee'" in run.warnings[0]


def admin(app: Flask, make_user) -> FlaskClient:
    make_user("boss", role=Role.ADMIN)
    client = app.test_client()
    login(client, "boss")
    return client


def test_a_fee_whose_item_vanished_is_parked_with_the_reason_on_the_page(
    app, sessions, qbo, make_user
):
    charge(app, FIRST_FEE_DAY)
    with sessions() as s:
        s.execute(sa.delete(CatalogItem).where(CatalogItem.name == "Late fee"))
        s.commit()
    assert drain(sessions, qbo).parked == 2
    page = admin(app, make_user).get("/admin/late-fees").get_data(as_text=True)
    assert "parked" in page and "no active service item named" in page
    assert fee_lines(qbo, "i1") == []


def test_the_policy_page_refuses_bad_values_with_clear_messages(app, sessions, qbo, make_user):
    client = admin(app, make_user)
    form = {
        "enabled": "y",
        "grace_days": "ten",
        "kind": "percent",
        "amount": "25.00",
        "percent": "1.234",
        "minimum": "5.00",
        "cap": "2.00",
        "frequency": "monthly",
        "item_name": "Late fee",
    }
    response = post_form(client, "/admin/late-fees", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "whole number from 0 to 365" in page
    assert "percentage as a number with at most 2 decimals" in page
    response = post_form(client, "/admin/late-fees", {**form, "grace_days": "5", "percent": "2"})
    assert response.status_code == 400
    assert "cap cannot be less than the minimum" in response.get_data(as_text=True)
    assert count(sessions, LateFeePolicyRow) == 0


def test_a_saved_policy_overrides_the_config_until_reset(app, sessions, qbo, make_user):
    client = admin(app, make_user)
    form = {
        "enabled": "y",
        "grace_days": "3",
        "kind": "flat",
        "amount": "$12.5",
        "percent": "1.50",
        "minimum": "0",
        "cap": "",
        "frequency": "once",
        "item_name": "Late fee",
    }
    response = post_form(client, "/admin/late-fees", form)
    assert response.status_code == 302
    page = client.get("/admin/late-fees").get_data(as_text=True)
    assert "Late-fee policy saved" in page and 'value="12.50"' in page and "by boss" in page
    run = apply_late_fees(sessions, app.config["PORTAL_SETTINGS"], date(2026, 2, 8))
    assert run.added == 2  # three grace days instead of ten
    with sessions() as s:
        assert set(s.scalars(sa.select(LateFee.amount))) == {Decimal("12.50")}
    assert "queued" in client.get("/admin/late-fees").get_data(as_text=True)
    response = post_form(client, "/admin/late-fees/reset", {}, page="/admin/late-fees")
    assert response.status_code == 302 and count(sessions, LateFeePolicyRow) == 0


def test_bookkeepers_see_the_policy_but_only_admins_change_it(app, sessions, qbo, make_user):
    make_user("books", role=Role.BOOKKEEPER)
    client = app.test_client()
    login(client, "books")
    page = client.get("/admin/late-fees")
    assert page.status_code == 200 and "Save policy" not in page.get_data(as_text=True)
    response = post_form(
        client, "/admin/late-fees", {"grace_days": "1", "item_name": "x"}, page="/admin/late-fees"
    )
    assert response.status_code == 404
    assert count(sessions, LateFeePolicyRow) == 0


def test_customers_cannot_reach_the_late_fee_pages(app, make_user):
    make_user("ada")
    client = app.test_client()
    login(client, "ada")
    assert client.get("/admin/late-fees").status_code == 404
    assert client.post("/admin/late-fees/reset").status_code in (400, 404)


@pytest.fixture
def sandboxed(settings: Settings, monkeypatch) -> Iterator[Flask]:
    """The portal wired to the QuickBooks sandbox through the real adapter, synced once."""
    monkeypatch.setitem(os.environ, "OAUTHLIB_INSECURE_TRANSPORT", "1")
    sandbox = demo_env.start_sandbox(settings, 0, customers=3, invoices=12)
    sandbox.state.faults.throttle_limit = None
    wired = demo_env.sandbox_settings(settings, sandbox)
    wired = dataclasses.replace(
        wired, quickbooks=dataclasses.replace(wired.quickbooks, throttle_wait_seconds=0)
    )
    application = create_app({"SETTINGS": wired, "ARGON2_CHEAP": True})
    with application.app_context():
        demo_env.connect(application, wired)
        assert sync_realm(application, demo_env.DEMO_REALM).error is None
    yield application
    _wipe(application.extensions["portal.db"].engine)
    application.extensions["portal.db"].engine.dispose()
    sandbox.stop()


def test_with_the_real_adapter_the_fee_line_is_in_quickbooks_exactly_once(sandboxed: Flask):
    app, sessions = sandboxed, sandboxed.extensions["portal.db"].sessions
    settings: Settings = app.config["PORTAL_SETTINGS"]
    with sessions() as s:
        invoice = s.scalars(
            sa.select(Invoice)
            .where(fees_module.open_invoice(), Invoice.due_date.is_not(None))
            .order_by(Invoice.due_date.desc(), Invoice.id)
        ).first()
        assert invoice is not None and invoice.due_date is not None
    with app.app_context():
        adapter = adapter_for(
            settings, sessions, app.extensions["portal.fernet"], demo_env.DEMO_REALM
        )

    def late_fee_lines() -> list[str]:
        lines = adapter.get_invoice(invoice.qbo_id).lines
        return [
            ln.description or "" for ln in lines if (ln.description or "").startswith("Late fee")
        ]

    before = late_fee_lines()
    day = invoice.due_date + timedelta(days=11)
    for _ in range(2):  # the job and the drain, twice
        apply_late_fees(sessions, settings, day)
        with app.app_context():
            write_back(app)
    with sessions() as s:  # as if "done" was lost after QuickBooks answered: sent again
        s.execute(
            sa.update(OutboxMessage).values(
                status=OutboxStatus.PENDING, next_attempt_at=OutboxMessage.created_at
            )
        )
        s.commit()
    with app.app_context():
        assert write_back(app).done >= 1
    after = late_fee_lines()
    assert after[len(before) :] == [f"Late fee for overdue invoice {invoice.doc_number}"]
    with sessions() as s:
        charged = s.scalars(sa.select(LateFee).where(LateFee.invoice_id == invoice.id)).all()
        assert [(f.period, f.amount) for f in charged] == [("once", Decimal("25.00"))]
        assert charged[0].written_at is not None
