"""Notices: each exactly once, on the right company day, by the channels the customer chose,
never in quiet hours by SMS, never for what was paid meanwhile; delivery retried, then parked."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from email.message import Message
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal.billing.models import Invoice
from portal.mail.adapters import MemoryMailer
from portal.notifications import jobs
from portal.notifications.delivery import deliver_due
from portal.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    SmsContact,
    StatementPreference,
)
from portal.notifications.service import Draft, notify, notify_many
from portal.notifications.statements import period_before, statements
from portal.overdue.jobs import hourly
from sync import upsert
from sync.models import RunStatus, SyncRun, SyncState
from tests.conftest import Mailbox
from tests.fonts import require_fonts

ZONE = ZoneInfo("America/Los_Angeles")


class FakeSms:
    """Our own SMS adapter interface, in memory: what was sent, and when (the app's clock)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.sent: list[tuple[str, str, datetime]] = []

    def send(self, to: str, body: str, status_callback: str | None) -> str:
        self.sent.append((to, body, self.clock()))
        return f"SM{len(self.sent):032x}"

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        return None


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


@pytest.fixture
def company(app: Flask) -> None:
    with app.app_context(), db.transaction() as s:
        s.add(SyncState(realm_id="test", timezone="America/Los_Angeles"))


def notices(app: Flask) -> list[Notification]:
    with app.app_context():
        return list(db.session().scalars(sa.select(Notification).order_by(Notification.id)))


def set_clock(app: Flask, moment: datetime) -> None:
    app.config["CLOCK"] = lambda: moment


def run_jobs(app: Flask) -> None:
    with app.app_context():
        hourly(app)
        jobs.reminders(app)
        deliver_due(app)


def test_a_month_of_days_sends_each_notice_once_on_its_company_day(
    app: Flask, company, make_customer, make_invoice, mailbox: Mailbox
):
    ada = make_customer("Ada", email="ada@example.com")
    bob = make_customer("Bob", email="bob@example.com")
    first = make_invoice(ada, "100.00", due=date(2026, 3, 10), txn=date(2026, 2, 20))
    second = make_invoice(ada, "50.00", due=date(2026, 3, 20), txn=date(2026, 2, 28))
    paid_early = make_invoice(bob, "75.00", due=date(2026, 3, 15), txn=date(2026, 2, 25))
    sms = FakeSms(lambda: app.config["CLOCK"]())
    app.extensions["portal.sms"] = sms
    with app.app_context(), db.transaction() as s:
        # Bob wants reminders by SMS only, on a verified number.
        s.add(NotificationPreference(customer_id=bob.id, kind="due_soon", channels="sms"))
        s.add(
            SmsContact(
                customer_id=bob.id, phone="+14155550100", verified_at=local(date(2026, 2, 1), 9)
            )
        )

    day = date(2026, 3, 1)
    while day <= date(2026, 3, 31):
        # Just after midnight, in the quiet of the night, and late in the evening, company time.
        for hour, minute in ((0, 5), (3, 0), (9, 30), (23, 55)):
            set_clock(app, local(day, hour, minute))
            run_jobs(app)
        if day == date(2026, 3, 12):  # Bob pays before the day-before reminder
            with app.app_context(), db.transaction() as s:
                s.execute(sa.update(Invoice).where(Invoice.id == paid_early.id).values(balance=0))
        day += timedelta(days=1)

    made = {(n.kind, n.subject, n.period): n for n in notices(app)}
    assert len(made) == len(notices(app))  # each key once
    days = {key: n.created_at.astimezone(ZONE).date() for key, n in made.items()}
    expected = {
        ("due_soon", f"invoice:{first.id}", "due-7"): date(2026, 3, 3),
        ("due_soon", f"invoice:{first.id}", "due-1"): date(2026, 3, 9),
        ("due_soon", f"invoice:{first.id}", "due-0"): date(2026, 3, 10),
        ("due_soon", f"invoice:{second.id}", "due-7"): date(2026, 3, 13),
        ("due_soon", f"invoice:{second.id}", "due-1"): date(2026, 3, 19),
        ("due_soon", f"invoice:{second.id}", "due-0"): date(2026, 3, 20),
        ("due_soon", f"invoice:{paid_early.id}", "due-7"): date(2026, 3, 8),
        ("overdue", "account", "past_due-2026-03-11"): date(2026, 3, 11),
        ("service_warning", "account", "warning-2026-03-25"): date(2026, 3, 25),
    }
    assert days == expected

    # Ada's came by e-mail, each once; Bob's by SMS only, never between 21:00 and 08:00.
    with app.app_context():
        rows = (
            db.session()
            .execute(
                sa.select(Notification.customer_id, Delivery.channel, Delivery.status).join(
                    Delivery, Delivery.notification_id == Notification.id
                )
            )
            .all()
        )
    assert {(c, ch) for c, ch, _ in rows} == {(ada.id, Channel.EMAIL), (bob.id, Channel.SMS)}
    assert all(status is DeliveryStatus.SENT for _, _, status in rows)
    ada_mail = [m for m in mailbox.messages() if m["To"] == "ada@example.com"]
    assert len(ada_mail) == 8 and not [
        m for m in mailbox.messages() if m["To"] == "bob@example.com"
    ]
    assert len(sms.sent) == 1
    sent_at = sms.sent[0][2].astimezone(ZONE)
    assert sent_at.date() == date(2026, 3, 8) and time(8, 0) <= sent_at.time() < time(21, 0)

    # A second run of every job, now and later, adds and sends nothing.
    before = (len(notices(app)), len(mailbox.messages()), len(sms.sent))
    run_jobs(app)
    set_clock(app, local(date(2026, 3, 31), 23, 59))
    run_jobs(app)
    assert (len(notices(app)), len(mailbox.messages()), len(sms.sent)) == before


def test_a_notice_written_sixteen_times_at_once_is_one_notice_and_one_e_mail(
    app: Flask, make_customer
):
    ada = make_customer("Ada", email="ada@example.com")

    def write(_: int) -> bool:
        with app.app_context(), db.transaction() as s:
            return (
                notify(
                    s,
                    "news",
                    customer_id=ada.id,
                    subject="notice:1",
                    period="posted",
                    title="Office closed Monday",
                    body="Back on Tuesday.",
                )
                is not None
            )

    with ThreadPoolExecutor(max_workers=16) as pool:
        wrote = list(pool.map(write, range(16)))
    assert wrote.count(True) == 1
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(Delivery)) == 1


def _sent(mailbox: Mailbox) -> Message:
    messages = mailbox.messages()
    assert len(messages) == 1
    return messages[0]


def test_an_e_mail_notice_has_text_and_html_the_brand_and_one_click_unsubscribe(
    app: Flask, make_customer, mailbox: Mailbox
):
    ada = make_customer("Ada", email="ada@example.com")
    with app.app_context(), db.transaction() as s:
        notify(
            s,
            "news",
            customer_id=ada.id,
            subject="notice:9",
            period="posted",
            title="Invoice 1009 is due in 7 days: $12.00",
            body="Invoice 1009 for $12.00 is due on March 6, 2026.",
            link="/pay?invoice=9",
            context={"button": "Pay now"},
        )
    with app.app_context():
        deliver_due(app)
    message = _sent(mailbox)
    assert message["Subject"] == "Invoice 1009 is due in 7 days: $12.00"
    assert message["List-Unsubscribe"].startswith("<http")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = {p.get_content_type(): p for p in message.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    html = parts["text/html"].get_payload(decode=True).decode()
    text = parts["text/plain"].get_payload(decode=True).decode()
    assert "Pay now" in html and "/pay?invoice=9" in html and "Demo Utility Co." in html
    assert "Stop these e-mails:" in text


def test_a_notice_that_cannot_be_turned_off_has_no_unsubscribe(
    app: Flask, make_customer, mailbox: Mailbox
):
    ada = make_customer("Ada", email="ada@example.com")
    with app.app_context(), db.transaction() as s:
        s.add(NotificationPreference(customer_id=ada.id, kind="service_suspended", channels=""))
        notify(
            s,
            "service_suspended",
            customer_id=ada.id,
            subject="account",
            period="suspended-2026-03-25",
            title="Service was turned off for non-payment",
            body="Pay the overdue balance.",
        )
    with app.app_context():
        deliver_due(app)
    message = _sent(mailbox)  # turned "off", and still sent: it is mandatory
    assert message["List-Unsubscribe"] is None
    plain = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert "always sent" in plain.get_payload(decode=True).decode()


def test_sms_by_choice_falls_back_to_e_mail_only_for_what_cannot_be_skipped(
    app: Flask, make_customer
):
    ada = make_customer("Ada", email="ada@example.com")
    with app.app_context(), db.transaction() as s:
        for kind_name in ("news", "service_suspended"):
            s.add(NotificationPreference(customer_id=ada.id, kind=kind_name, channels="sms"))
        common = {"customer_id": ada.id, "subject": "x", "period": "1", "body": "b"}
        notify(s, "news", title="News", **common)  # no verified number: skipped
        notify(s, "service_suspended", title="Off", **common)  # mandatory: e-mail too
        rows = s.execute(
            sa.select(Notification.kind, Delivery.channel, Delivery.status, Delivery.last_error)
            .join(Delivery)
            .order_by(Delivery.id)
        ).all()
    assert rows == [
        ("news", Channel.SMS, DeliveryStatus.SKIPPED, "no verified mobile number"),
        ("service_suspended", Channel.SMS, DeliveryStatus.SKIPPED, "no verified mobile number"),
        ("service_suspended", Channel.EMAIL, DeliveryStatus.QUEUED, None),
    ]


def test_a_failing_mail_server_is_retried_with_back_off_then_parked(app: Flask, make_customer):
    ada = make_customer("Ada", email="ada@example.com")
    mailer = MemoryMailer()
    mailer.fail_next = 99
    app.extensions["portal.mailer"] = mailer
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    set_clock(app, start)
    with app.app_context(), db.transaction() as s:
        notify(s, "news", customer_id=ada.id, subject="n", period="1", title="T", body="B")
    waits = []
    moment = start
    with app.app_context():
        for _ in range(5):
            deliver_due(app)
            row = db.session().scalars(sa.select(Delivery)).one()
            db.session().expire_all()
            waits.append(row.next_attempt_at - moment)
            moment = row.next_attempt_at
            set_clock(app, moment)
        row = db.session().scalars(sa.select(Delivery)).one()
    assert row.status is DeliveryStatus.PARKED and row.attempts == 5
    assert row.last_error == "injected failure"
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]


def test_a_reminder_paid_before_it_goes_out_is_not_sent(
    app: Flask, company, make_customer, make_invoice, mailbox: Mailbox
):
    ada = make_customer("Ada", email="ada@example.com")
    invoice = make_invoice(ada, "30.00", due=date(2026, 3, 10))
    set_clock(app, local(date(2026, 3, 3), 10))
    with app.app_context():
        assert jobs.reminders(app) == 1
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(Invoice).where(Invoice.id == invoice.id).values(balance=0))
    with app.app_context():
        deliver_due(app)
        row = db.session().scalars(sa.select(Delivery)).one()
    assert row.status is DeliveryStatus.SKIPPED and row.last_error == "paid before it was sent"
    assert mailbox.messages() == []


def test_new_invoices_are_noticed_with_the_mirror_page_but_not_on_the_first_mirror(
    app: Flask, company, make_customer, make_invoice
):
    assert jobs.new_invoices in upsert.new_invoice_hooks
    ada = make_customer("Ada", email="ada@example.com")
    set_clock(app, local(date(2026, 3, 3), 10))
    fresh = make_invoice(ada, "40.00", due=date(2026, 3, 30), txn=date(2026, 3, 2))
    old = make_invoice(ada, "40.00", due=date(2026, 3, 30), txn=date(2026, 1, 2))
    paid = make_invoice(ada, "40.00", balance="0", due=date(2026, 3, 30), txn=date(2026, 3, 2))
    ids = [fresh.id, old.id, paid.id]
    with app.app_context(), db.transaction() as s:
        assert jobs.new_invoices(s, "test", ids) == 0  # the company's first mirror
        s.add(
            SyncRun(
                realm_id="test",
                kind="full",
                status=RunStatus.SUCCEEDED,
                started_at=local(date(2026, 3, 1), 1),
            )
        )
        s.flush()
        assert jobs.new_invoices(s, "test", ids) == 1
        assert jobs.new_invoices(s, "test", ids) == 0  # once
    (made,) = notices(app)
    assert (made.kind, made.subject, made.link) == (
        "new_invoice",
        f"invoice:{fresh.id}",
        f"/invoices/{fresh.id}",
    )
    assert made.title == f"New invoice {fresh.doc_number}: $40.00"


def test_service_back_on_is_told_once_after_a_suspension(
    app: Flask, company, make_customer, make_invoice
):
    ada = make_customer("Ada", email="ada@example.com")
    invoice = make_invoice(ada, "80.00", due=date(2026, 1, 1))
    set_clock(app, local(date(2026, 3, 3), 10))
    run_jobs(app)
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(Invoice).where(Invoice.id == invoice.id).values(balance=0))
    run_jobs(app)
    run_jobs(app)
    kinds = [n.kind for n in notices(app)]
    assert kinds == ["service_suspended", "service_restored"]


def test_a_draft_needs_someone_to_tell(app: Flask):
    with app.app_context(), db.transaction() as s, pytest.raises(ValueError):
        notify_many(s, [Draft(kind="news", subject="x", period="1", title="t", body="b")])


def test_statements_go_on_the_statement_day_with_the_pdf_for_the_month_before(
    app: Flask, company, make_customer, make_invoice, mailbox: Mailbox
):
    require_fonts()
    ada = make_customer("Ada", email="ada@example.com")
    bob = make_customer("Bob", email="bob@example.com")
    quiet = make_customer("Quiet", email="quiet@example.com")
    make_invoice(ada, "120.00", due=date(2026, 3, 30), txn=date(2026, 3, 2))
    make_invoice(bob, "60.00", due=date(2026, 3, 30), txn=date(2026, 3, 2))
    make_invoice(quiet, "10.00", balance="0", due=date(2025, 1, 1), txn=date(2025, 1, 1))
    with app.app_context(), db.transaction() as s:
        s.add(StatementPreference(customer_id=bob.id, frequency="quarterly"))

    set_clock(app, local(date(2026, 3, 31), 12))
    with app.app_context():
        assert statements(app) == 0  # not the statement day
    set_clock(app, local(date(2026, 4, 1), 12))
    with app.app_context():
        assert statements(app) == 2
        assert statements(app) == 0
        deliver_due(app)

    by_to = {m["To"]: m for m in mailbox.messages()}
    assert set(by_to) == {"ada@example.com", "bob@example.com"}
    assert by_to["ada@example.com"]["Subject"] == "Your statement for March 2026"
    assert by_to["bob@example.com"]["Subject"] == "Your statement for January to March 2026"
    files = [p for p in by_to["ada@example.com"].walk() if p.get_filename()]
    assert [f.get_filename() for f in files] == ["statement-2026-03-01-2026-03-31.pdf"]
    assert files[0].get_payload(decode=True).startswith(b"%PDF")


def test_a_quarterly_statement_waits_for_the_quarter(app: Flask) -> None:
    assert period_before(date(2026, 5, 1), "quarterly") is None
    assert period_before(date(2026, 1, 1), "quarterly") == (date(2025, 10, 1), date(2025, 12, 31))
    assert period_before(date(2026, 1, 1), "monthly") == (date(2025, 12, 1), date(2025, 12, 31))
    assert period_before(date(2026, 1, 1), "never") is None


def test_the_same_notice_twice_in_one_batch_is_one_notice_with_one_delivery(
    app: Flask, make_customer
):
    ada = make_customer("Ada", email="ada@example.com")
    draft = Draft(kind="news", customer_id=ada.id, subject="n", period="1", title="t", body="b")
    with app.app_context(), db.transaction() as s:
        assert len(notify_many(s, [draft, draft])) == 1
        assert notify_many(s, [draft]) == {}
        assert s.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 1
