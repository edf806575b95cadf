"""Benchmark: the daily reminder run and the delivery of the notices it writes.

(1) `reminders(app)` for N customers (each with an e-mail; one in ten with a verified mobile
and "email,sms" for due-soon reminders) and 10 x N invoices due over the next 60 days, so a
day finds 3/60 of them (7 days, 1 day and 0 days before): notices written, SQL statements,
wall time, at 1,000, 3,000 and 10,000 customers; then a repeat run at the largest size (it
writes nothing), and the same run writing one notice at a time (the baseline: what a loop
per customer or per invoice costs), in the same run.
(2) `deliver_due(app)` sending the largest run's notices: e-mail through SmtpMailer to an
aiosmtpd server on loopback, SMS through TwilioSms to the Twilio sandbox, against the same
messages sent with bare smtplib and bare requests.post to the sandbox's Messages endpoint.

    .venv/bin/python bench/notices_bench.py                 # 1,000 / 3,000 / 10,000 customers
    .venv/bin/python bench/notices_bench.py --quick         # 100 / 300 / 1,000
    .venv/bin/python bench/notices_bench.py --profile       # and cProfile's top functions
    PORTAL_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/notices_bench.py             # PostgreSQL (a schema per run)

The database is a fresh SQLite file (or a fresh PostgreSQL schema) per size, after a small
warm-up run that is not measured. Both servers run in this process, as the tests run them;
sending is one message at a time, so they only work while the sender waits for them. No
timing is asserted: the table is for reading."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import logging
import math
import os
import pstats
import smtplib
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.app import create_app  # noqa: E402
from portal.billing.models import Customer, Invoice  # noqa: E402
from portal.config import load_settings  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.notifications import jobs  # noqa: E402
from portal.notifications.delivery import deliver_due  # noqa: E402
from portal.notifications.models import (  # noqa: E402
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    SmsContact,
)
from portal.notifications.service import CHUNK, notify_many  # noqa: E402
from portal.notifications.sms import sms_sender_for  # noqa: E402
from sandbox.twilio import TwilioSandbox  # noqa: E402

# A fixed business day, mid-afternoon UTC: outside the SMS quiet hours (21:00-08:00).
MOMENT = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
FAR = MOMENT + timedelta(days=3650)
SIZES = (1_000, 3_000, 10_000)
QUICK = (100, 300, 1_000)
INVOICES_PER_CUSTOMER = 10


# ---- the local servers ----------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that counts what it accepts and keeps the first message's bytes."""

    def __init__(self) -> None:
        self.count = 0
        self.size = 0
        self.first: tuple[str, list[str], bytes] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        self.size += len(envelope.content)
        if self.first is None:
            self.first = (envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        return "250 Message accepted for delivery"


@dataclass
class Servers:
    smtp_port: int
    inbox: Inbox
    twilio: TwilioSandbox


@contextlib.contextmanager
def servers() -> Iterator[Servers]:
    """An SMTP server and the Twilio sandbox on loopback (status callbacks kept, not posted)."""
    with socket.socket() as probe:  # aiosmtpd cannot bind port 0 itself
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with TwilioSandbox() as twilio:
            twilio.state.callbacks.auto_deliver = False
            yield Servers(port, inbox, twilio)
    finally:
        smtp.stop()


# ---- the portal -------------------------------------------------------------------------------


@contextlib.contextmanager
def database(folder: Path, postgres: str | None) -> Iterator[str]:
    """A migrated database: a SQLite file in `folder`, or a fresh schema of `postgres`."""
    if not postgres:
        url = f"sqlite:///{folder / 'bench.db'}"
        upgrade(url)
        yield url
        return
    schema = f"portal_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres else "?"
    url = f"{postgres}{sep}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_app(folder: Path, url: str, srv: Servers) -> Flask:
    """The portal on `url`, mailing through the SMTP server, texting through the sandbox,
    its clock pinned to MOMENT."""
    state = srv.twilio.state
    (folder / "config.toml").write_text(
        f'[portal]\ninstance_path = "{folder}"\ndatabase_url = "{url}"\n'
        'public_url = "https://billing.example.com"\n'
        '[mail]\nbackend = "smtp"\nsmtp_host = "127.0.0.1"\n'
        f'smtp_port = {srv.smtp_port}\nsmtp_security = "none"\n'
        f'[sms]\naccount_sid = "{state.account_sid}"\nauth_token = "{state.auth_token}"\n'
        f'from_number = "{state.from_number}"\napi_base_url = "{srv.twilio.base_url}"\n'
    )
    settings = load_settings(folder / "config.toml", environ={})
    app = create_app({"SETTINGS": settings})
    app.config["CLOCK"] = lambda: MOMENT
    app.extensions.setdefault("portal.sms", sms_sender_for(settings))
    return app


@contextlib.contextmanager
def portal(folder: Path, customers: int, srv: Servers, postgres: str | None) -> Iterator[Flask]:
    """A seeded portal of `customers` customers, in an app context."""
    folder.mkdir(parents=True)
    with database(folder, postgres) as url:
        app = make_app(folder, url, srv)
        try:
            with app.app_context():
                seed(app, customers)
                yield app
        finally:
            app.extensions["portal.db"].engine.dispose()


def seed(app: Flask, customers: int) -> None:
    """Customers, 10 invoices each due over the next 60 days, and one customer in ten with a
    verified mobile and reminders by e-mail and SMS; bulk inserts."""
    today = MOMENT.date()
    with app.extensions["portal.db"].sessions() as s:
        s.execute(
            sa.insert(Customer),
            [
                {
                    "realm_id": "bench",
                    "qbo_id": str(n),
                    "display_name": f"Customer {n}",
                    "email": f"customer{n}@example.com",
                    "sync_token": "0",
                    "mirrored_at": MOMENT,
                }
                for n in range(customers)
            ],
        )
        ids = list(s.scalars(sa.select(Customer.id).order_by(Customer.id)))
        s.execute(
            sa.insert(Invoice),
            [
                {
                    "realm_id": "bench",
                    "qbo_id": f"i{n}",
                    "customer_id": ids[n // INVOICES_PER_CUSTOMER],
                    "doc_number": str(100_000 + n),
                    "txn_date": today - timedelta(days=20),
                    # 7 is prime to 60: every day of the next 60 gets the same share, and
                    # each customer's invoices fall on different days
                    "due_date": today + timedelta(days=(7 * n) % 60),
                    "total_amt": Decimal("120.00") + n % 50,
                    "balance": Decimal("120.00") + n % 50,
                    "currency": "USD",
                    "voided": False,
                    "deleted": False,
                    "sync_token": "0",
                    "mirrored_at": MOMENT,
                }
                for n in range(customers * INVOICES_PER_CUSTOMER)
            ],
        )
        # one in each ten, not every tenth (those would share due days: 10n mod 60)
        texting = [(n, ids[n]) for n in range(customers) if n % 10 == n // 10 % 10]
        if texting:
            s.execute(
                sa.insert(SmsContact),
                [
                    {
                        "customer_id": customer_id,
                        "phone": f"+1415{n:07d}",
                        "verified_at": MOMENT - timedelta(days=30),
                        "code_attempts": 0,
                        "updated_at": MOMENT,
                    }
                    for n, customer_id in texting
                ],
            )
            s.execute(
                sa.insert(NotificationPreference),
                [
                    {
                        "customer_id": customer_id,
                        "kind": "due_soon",
                        "channels": "email,sms",
                        "updated_at": MOMENT,
                    }
                    for _, customer_id in texting
                ],
            )
        s.commit()


# ---- measuring --------------------------------------------------------------------------------


@contextlib.contextmanager
def statements(app: Flask) -> Iterator[list[int]]:
    """Counts the SQL statements the app's engine sends while inside (box[0])."""
    engine = app.extensions["portal.db"].engine
    box = [0]

    def count(*_args: Any) -> None:
        box[0] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield box
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


@contextlib.contextmanager
def profiled(enabled: bool, title: str, out: list[str]) -> Iterator[None]:
    """cProfile around the block when `enabled`: the top functions by own time go to `out`."""
    if not enabled:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text)
        stats.sort_stats("tottime").print_stats(18)
        stats.sort_stats("cumulative").print_stats(25)
        out.append(f"---- profile: {title} ----\n{text.getvalue()}")


@contextlib.contextmanager
def one_notice_at_a_time() -> Iterator[None]:
    """The baseline: the reminder job writing each notice with its own notify_many call."""

    def one_by_one(s: Any, drafts: Sequence[Any], quiet: Any = None, now: Any = None) -> Any:
        made: dict[str, int] = {}
        for draft in drafts:
            made.update(notify_many(s, [draft], quiet, now))
        return made

    saved = jobs.notify_many
    jobs.notify_many = one_by_one  # type: ignore[assignment]
    try:
        yield
    finally:
        jobs.notify_many = saved


@dataclass
class RunRow:
    """One line of the reminder table."""

    label: str
    customers: int
    invoices: int
    due: int  # open invoices due on a reminder day: the drafts the job makes
    notices: int
    statements: int
    seconds: float


def remind(app: Flask, label: str, customers: int) -> RunRow:
    """One reminder run, timed and counted."""
    days = [MOMENT.date() + timedelta(days=n) for n in (0, 1, 7)]
    with app.extensions["portal.db"].sessions() as s:
        due = s.scalar(
            sa.select(sa.func.count()).select_from(Invoice).where(Invoice.due_date.in_(days))
        )
    with statements(app) as box:
        started = time.perf_counter()
        made = jobs.reminders(app)
        seconds = time.perf_counter() - started
    invoices = customers * INVOICES_PER_CUSTOMER
    return RunRow(label, customers, invoices, int(due or 0), made, box[0], seconds)


def forget_notices(app: Flask) -> None:
    """Delete every notice and delivery (before the baseline writes them again)."""
    with app.extensions["portal.db"].sessions() as s:
        s.execute(sa.delete(Delivery))
        s.execute(sa.delete(Notification))
        s.commit()


@dataclass
class SendRow:
    """One line of the delivery table."""

    label: str
    messages: int
    seconds: float
    statements: int | None = None
    baseline: SendRow | None = field(default=None, repr=False)


def _move(app: Flask, channel: Channel, since: datetime, until: datetime) -> None:
    """Move the queued deliveries of `channel` due at `since` to `until`."""
    with app.extensions["portal.db"].sessions() as s:
        s.execute(
            sa.update(Delivery)
            .where(
                Delivery.channel == channel,
                Delivery.status == DeliveryStatus.QUEUED,
                Delivery.next_attempt_at == since,
            )
            .values(next_attempt_at=until)
        )
        s.commit()


def _queued(app: Flask, channel: Channel) -> int:
    with app.extensions["portal.db"].sessions() as s:
        return int(
            s.scalar(
                sa.select(sa.func.count())
                .select_from(Delivery)
                .where(Delivery.channel == channel, Delivery.status == DeliveryStatus.QUEUED)
            )
            or 0
        )


def send_through_portal(app: Flask, channel: Channel, label: str) -> SendRow:
    """deliver_due with only `channel`'s deliveries due: every one of them is sent."""
    other = Channel.SMS if channel is Channel.EMAIL else Channel.EMAIL
    _move(app, other, MOMENT, FAR)  # out of the way
    expected = _queued(app, channel)
    try:
        with statements(app) as box:
            started = time.perf_counter()
            run = deliver_due(app, limit=10**9)
            seconds = time.perf_counter() - started
    finally:
        _move(app, other, FAR, MOMENT)
    if run.sent != expected or run.failed or run.retried:
        raise SystemExit(f"{label}: {expected} due, {run}")
    return SendRow(label, run.sent, seconds, box[0])


def smtp_baseline(srv: Servers, count: int, reuse: bool) -> SendRow:
    """The portal's first e-mail, byte for byte, sent `count` times with bare smtplib: a
    connection per message (as SmtpMailer does) or one for all (`reuse`)."""
    assert srv.inbox.first is not None, "the portal sent no e-mail"
    sender, to, data = srv.inbox.first
    before = srv.inbox.count
    started = time.perf_counter()
    if reuse:
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as smtp:
            for _ in range(count):
                smtp.sendmail(sender, to, data)
    else:
        for _ in range(count):
            with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as smtp:
                smtp.sendmail(sender, to, data)
    seconds = time.perf_counter() - started
    assert srv.inbox.count - before == count
    how = "one connection for all" if reuse else "a connection per message"
    return SendRow(f"  smtplib, {how}", count, seconds)


def sms_baseline(srv: Servers, status_callback: str) -> SendRow:
    """The SMS the portal sent, again, with bare requests.post to the sandbox's Messages.json
    (one requests.Session, as the twilio package keeps one)."""
    state = srv.twilio.state
    with state.lock:
        sent = [(m.to, m.body) for m in state.messages.values() if m.direction == "outbound-api"]
    url = f"{srv.twilio.base_url}/2010-04-01/Accounts/{state.account_sid}/Messages.json"
    started = time.perf_counter()
    with requests.Session() as http:
        for to, body in sent:
            answer = http.post(
                url,
                data={
                    "To": to,
                    "From": state.from_number,
                    "Body": body,
                    "StatusCallback": status_callback,
                },
                auth=(state.account_sid, state.auth_token),
                timeout=10,
            )
            if answer.status_code != 201:
                raise SystemExit(f"the sandbox answered {answer.status_code}: {answer.text}")
    return SendRow("  requests.post to Messages.json", len(sent), time.perf_counter() - started)


def deliveries(app: Flask, srv: Servers, profile: bool, out: list[str]) -> list[SendRow]:
    """E-mail, then SMS, through the portal; each against its bare baseline."""
    with profiled(profile, "deliver_due, e-mail", out):
        email = send_through_portal(app, Channel.EMAIL, "e-mail: deliver_due -> SmtpMailer")
    per_message = smtp_baseline(srv, email.messages, reuse=False)
    email.baseline = per_message
    reused = smtp_baseline(srv, email.messages, reuse=True)
    rows = [email, per_message, reused]
    if _queued(app, Channel.SMS):
        with profiled(profile, "deliver_due, SMS", out):
            sms = send_through_portal(app, Channel.SMS, "SMS: deliver_due -> TwilioSms")
        sms.baseline = sms_baseline(srv, "https://billing.example.com/webhooks/twilio/status")
        rows += [sms, sms.baseline]
    return rows


def warm_up(folder: Path, srv: Servers, postgres: str | None) -> None:
    """A small run, not measured: imports, compiled statements and templates are ready."""
    with portal(folder, 20, srv, postgres) as app:
        jobs.reminders(app)
        deliver_due(app)
    srv.inbox.count = srv.inbox.size = 0
    srv.inbox.first = None
    srv.twilio.state.reset()


# ---- the whole run ----------------------------------------------------------------------------


@dataclass
class Report:
    runs: list[RunRow]
    repeat: RunRow
    baseline: RunRow
    sends: list[SendRow]
    email_kb: float
    profiles: list[str]


def measure(
    folder: Path,
    sizes: Sequence[int],
    postgres: str | None = None,
    profile: bool = False,
    progress: Callable[[str], None] = lambda _text: None,
    warm: bool = True,
) -> Report:
    """Every measurement: a reminder run per size; at the largest, a repeat run, the baseline
    and the deliveries."""
    runs: list[RunRow] = []
    profiles: list[str] = []
    *smaller, largest = sizes
    with servers() as srv:
        if warm:
            warm_up(folder / "warm-up", srv, postgres)
        for n in smaller:
            with portal(folder / f"n{n}", n, srv, postgres) as app:
                progress(f"{n:,} customers seeded")
                runs.append(remind(app, "reminder run", n))
        with portal(folder / f"n{largest}", largest, srv, postgres) as app:
            progress(f"{largest:,} customers seeded")
            with profiled(profile, f"reminders, {largest:,} customers", profiles):
                runs.append(remind(app, "reminder run", largest))
            repeat = remind(app, "  the same day again", largest)
            forget_notices(app)
            with one_notice_at_a_time():
                baseline = remind(app, "  baseline: one at a time", largest)
            progress("reminders measured; sending")
            sends = deliveries(app, srv, profile, profiles)
            email_kb = srv.inbox.size / max(srv.inbox.count, 1) / 1024
    return Report(runs, repeat, baseline, sends, email_kb, profiles)


def tables(r: Report, database: str) -> str:
    """The two tables and the ratios against the baselines."""
    head = (
        f"{'reminders':<30} {'customers':>9} {'invoices':>8} {'due':>6} {'notices':>7} "
        f"{'chunks':>6} {'statements':>10} {'wall s':>7} {'notices/s':>9}"
    )
    lines = [f"database: {database}", "", head]
    for row in [*r.runs, r.repeat, r.baseline]:
        chunks = math.ceil(row.due / CHUNK)
        rate = f"{row.notices / row.seconds:,.0f}" if row.notices else "-"
        lines.append(
            f"{row.label:<30} {row.customers:>9,} {row.invoices:>8,} {row.due:>6,} "
            f"{row.notices:>7,} {chunks:>6} {row.statements:>10,} {row.seconds:>7.2f} {rate:>9}"
        )
    ours = r.runs[-1]
    lines += [
        "",
        f"baseline / ours: {r.baseline.statements / ours.statements:.0f}x the statements, "
        f"{r.baseline.seconds / ours.seconds:.1f}x the wall time; "
        f"a chunk = up to {CHUNK} notices",
        "",
        f"{'delivery':<36} {'messages':>8} {'wall s':>7} {'msg/s':>7} {'stmts/msg':>9} "
        f"{'time vs bare':>12}",
    ]
    for row in r.sends:
        per = f"{row.statements / row.messages:.1f}" if row.statements is not None else "-"
        ratio = f"{row.seconds / row.baseline.seconds:.1f}x" if row.baseline else "-"
        lines.append(
            f"{row.label:<36} {row.messages:>8,} {row.seconds:>7.2f} "
            f"{row.messages / row.seconds:>7,.0f} {per:>9} {ratio:>12}"
        )
    lines += [
        "",
        f"e-mails average {r.email_kb:.1f} KB (text + HTML); the bare sends repeat the "
        "portal's first e-mail byte for byte, and the SMS the portal sent",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 / 300 / 1,000 customers")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size")
    args = parser.parse_args()
    # the sandbox logs every request and message; the tables are what matters here
    for name in ("werkzeug", "sandbox", "portal.notifications"):
        logging.getLogger(name).setLevel(logging.WARNING)
    postgres = os.environ.get("PORTAL_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        report = measure(
            Path(tmp),
            QUICK if args.quick else SIZES,
            postgres,
            args.profile,
            lambda text: print(text, file=sys.stderr, flush=True),
        )
    print(tables(report, "PostgreSQL" if postgres else "SQLite (a file)"))
    for text in report.profiles:
        print(text)


if __name__ == "__main__":
    main()
