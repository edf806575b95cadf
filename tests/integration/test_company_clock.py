"""The company's clock end to end: the mirror learns the zone QuickBooks stamps, and due dates,
the overdue ladder, late fees and the dashboard follow the company's date across midnight."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from portal import db
from portal.billing.models import CatalogItem, Customer
from portal.clock import company_today
from portal.config import Settings, load_settings
from portal.overdue.jobs import hourly
from portal.overdue.models import CustomerOverdue, LateFee
from sandbox.qbo import Company, ManualClock, QboSandbox, seed_company
from sync.mirror import Mirror, note_zone
from sync.models import SyncState
from sync.quickbooks import QuickBooksAdapter
from tests import records as rec
from tests.conftest import login, write_config
from tests.integration.qbo_fixtures import *  # noqa: F403  (sandbox, adapter, sessions...)

STILL_FEB_28_THERE = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)  # 19:00 on Feb 28 at UTC-8
MARCH_1_THERE = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)  # 00:30 on Mar 1 at UTC-8
DUE = date(2026, 2, 28)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Late fees on, due the day after the due date (no grace days)."""
    path = write_config(tmp_path, database_url, late_fees={"enabled": "true", "grace_days": 0})
    return load_settings(path, environ={})


@pytest.fixture
def company(sandbox: QboSandbox) -> Company:
    """A small company whose books are kept at UTC-8 (QuickBooks stamps every change so)."""
    pacific = sandbox.state.add_company(utc_offset=timedelta(hours=-8))
    return seed_company(sandbox.state, pacific.realm_id, customers=2, invoices=4, rng_seed=3)


@pytest.fixture
def at(app: Flask) -> Callable[[datetime], None]:
    """Pin the app's clock at a moment."""

    def pin(moment: datetime) -> None:
        app.config["CLOCK"] = lambda: moment

    return pin


@pytest.fixture
def pacific(app: Flask) -> None:
    """The test company's zone as the mirror keeps it after a sync: UTC-8."""
    with app.app_context(), db.transaction() as s:
        s.add(SyncState(realm_id="test", timezone="-08:00"))


@pytest.fixture
def overdue_invoice(app: Flask, make_customer, make_invoice) -> Customer:
    """A customer with one invoice due on Feb 28, and the "Late fee" item of the company."""
    ada = make_customer("Ada Lovelace")
    make_invoice(ada, "100.00", due=DUE)
    with app.app_context(), db.transaction() as s:
        s.add(CatalogItem(realm_id="test", qbo_id="fee", name="Late fee"))
    return ada


def counts(app: Flask) -> tuple[int, int]:
    """Late fees charged and customers recorded overdue."""
    with app.app_context():
        s = db.session()
        fees = s.scalar(sa.select(sa.func.count()).select_from(LateFee))
        overdue = s.scalar(sa.select(sa.func.count()).select_from(CustomerOverdue))
        return fees or 0, overdue or 0


def test_the_mirror_keeps_the_utc_offset_quickbooks_stamps_on_the_company(
    company: Company,
    qbo_clock: ManualClock,
    sessions: sessionmaker[Session],
    adapter: QuickBooksAdapter,
):
    run = Mirror(adapter, sessions, clock=qbo_clock).run()
    assert run.error is None
    with sessions() as s:
        state = s.get(SyncState, company.realm_id)
        assert state is not None and state.timezone == "-08:00"
        assert company_today(s, "", STILL_FEB_28_THERE) == date(2026, 2, 28)
        assert company_today(s, "", MARCH_1_THERE) == date(2026, 3, 1)


def test_the_newest_stamp_decides_the_zone_so_daylight_saving_time_is_followed(app: Flask):
    summer = datetime(2026, 10, 30, 12, 0, tzinfo=timezone(timedelta(hours=-7)))
    winter = datetime(2026, 11, 2, 12, 0, tzinfo=timezone(timedelta(hours=-8)))
    with app.app_context(), db.transaction() as s:
        s.add(SyncState(realm_id="test"))
        s.flush()
        note_zone(s, "test", [dataclasses.replace(rec.customer("1", "Ada"), updated_at=winter)])
        note_zone(s, "test", [dataclasses.replace(rec.customer("2", "Bo"), updated_at=summer)])
        state = s.get(SyncState, "test")
        assert state is not None
        assert (state.timezone, state.timezone_seen_at) == ("-08:00", winter)


def test_no_late_fee_or_overdue_state_before_midnight_in_the_company(
    app: Flask, at, pacific, overdue_invoice
):
    at(STILL_FEB_28_THERE)
    run = hourly(app)
    assert (run.fees.added, sum(run.states.values())) == (0, 0)
    assert counts(app) == (0, 0)


def test_the_fee_and_the_overdue_state_come_once_it_is_the_next_day_in_the_company(
    app: Flask, at, pacific, overdue_invoice
):
    at(MARCH_1_THERE)
    run = hourly(app)
    assert run.fees.added == 1 and run.states["past_due"] == 1
    assert counts(app) == (1, 1)


def test_the_configured_time_zone_wins_over_the_one_quickbooks_stamped(
    app: Flask, at, overdue_invoice
):
    with app.app_context(), db.transaction() as s:
        s.add(SyncState(realm_id="test", timezone="+00:00"))
    settings: Settings = app.config["PORTAL_SETTINGS"]
    portal = dataclasses.replace(settings.portal, timezone="America/Los_Angeles")
    app.config["PORTAL_SETTINGS"] = dataclasses.replace(settings, portal=portal)
    at(STILL_FEB_28_THERE)
    assert hourly(app).fees.added == 0
    at(MARCH_1_THERE)
    assert hourly(app).fees.added == 1


def test_the_dashboard_shows_an_invoice_due_today_as_due_until_the_company_s_midnight(
    app: Flask, client: FlaskClient, at, pacific, overdue_invoice, make_user
):
    make_user("ada", customer=overdue_invoice)
    login(client, "ada")
    at(STILL_FEB_28_THERE)
    page = client.get("/").get_data(as_text=True)
    assert "past due" not in page and "Overdue" not in page
    assert "Feb 28, 2026" in page  # next due
    assert "status-overdue" not in client.get("/invoices").get_data(as_text=True)
    at(MARCH_1_THERE)
    page = client.get("/").get_data(as_text=True)
    assert "1 invoice is past due" in page and "Overdue" in page
    assert "status-overdue" in client.get("/invoices").get_data(as_text=True)
