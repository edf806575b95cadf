"""The e-mail before a saved card that autopay or a schedule uses expires: 30 days before its
expiry month ends, once per card and expiry, linking to the payment methods page."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from flask import Flask

from portal import db, worker
from portal.notifications.models import Delivery, Notification
from portal.payments.methods import expiring_notices
from portal.payments.models import MethodKind
from tests.rows import saved_card


def at(app: Flask, day: date) -> None:
    app.config["CLOCK"] = lambda: datetime.combine(day, time(15), tzinfo=UTC)


def cards(app: Flask, make_customer) -> dict[str, int]:
    ada = make_customer("Ada Lovelace", email="ada@example.com")
    with app.app_context():
        s = db.session()
        rows = {
            "used": saved_card(ada.id, gateway_payment_profile_id="1", expiry="04/2026"),
            "unused": saved_card(ada.id, gateway_payment_profile_id="2", expiry="04/2026",
                                 last4="4242"),
            "later": saved_card(ada.id, gateway_payment_profile_id="3", expiry="06/2026",
                                last4="0005"),
            "bank": saved_card(ada.id, gateway_payment_profile_id="4", kind=MethodKind.BANK,
                               brand="Bank account", last4="6789"),
        }  # fmt: skip
        s.add_all(rows.values())
        s.commit()
        return {name: row.id for name, row in rows.items()}


def notices(app: Flask) -> list[Notification]:
    with app.app_context():
        return list(
            db.session().scalars(
                sa.select(Notification).where(Notification.kind == "card_expiring")
            )
        )


def test_a_card_in_use_is_noticed_once_30_days_before_its_month_ends(
    app: Flask, make_customer
) -> None:
    ids = cards(app, make_customer)
    in_use = {ids["used"], ids["later"], ids["bank"]}

    def used(s, method_id):  # type: ignore[no-untyped-def]
        return "Autopay pays your invoices with it." if method_id in in_use else None

    at(app, date(2026, 3, 30))  # 30 April, the card's last day, is 31 days away: not yet
    assert expiring_notices(app, used) == 0
    at(app, date(2026, 3, 31))
    assert expiring_notices(app, used) == 1
    at(app, date(2026, 4, 1))
    assert expiring_notices(app, used) == 0  # once per card and expiry
    [notice] = notices(app)
    assert notice.key.endswith(f":method:{ids['used']}:04/2026")
    assert notice.link == "/payment-methods"
    assert "Visa ending in 1111 expires at the end of 04/2026" in notice.title
    assert "Autopay pays your invoices with it." in notice.body
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(Delivery)) == 1
    at(app, date(2026, 5, 1))  # expired: too late to warn; the June card is not due yet
    assert expiring_notices(app, used) == 0


def test_without_anything_in_use_no_card_is_noticed(app: Flask, make_customer) -> None:
    cards(app, make_customer)
    at(app, date(2026, 4, 10))
    assert expiring_notices(app) == 0
    assert notices(app) == []


def test_the_worker_runs_the_card_expiry_job_hourly(app: Flask) -> None:
    jobs = {j.id: j for j in worker.job_list(app.config["PORTAL_SETTINGS"])}
    job = jobs["payment-methods-expiring"]
    assert job.func is expiring_notices and job.seconds == 3600
