"""E-mail goes through the outbox: written before sending, retried with back-off, then parked."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from flask import Flask

from portal import db
from portal.app import create_app
from portal.config import MailSettings, load_settings
from portal.db import utcnow
from portal.mail import deliver, queue_email
from portal.mail.adapters import MemoryMailer, SmtpMailer, batch
from portal.mail.models import MailStatus, OutboundEmail
from tests.conftest import write_config


class Collector(Message):
    """Keeps what the SMTP server received."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list = []

    def handle_message(self, message) -> None:  # type: ignore[override]
        self.received.append(message)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Collector]]:
    handler = Collector()
    with socket.socket() as probe:  # aiosmtpd cannot bind port 0 itself
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, handler
    controller.stop()


def _queue(app: Flask, to: str = "ada@example.com") -> None:
    with app.app_context(), db.transaction() as s:
        queue_email(
            s,
            to,
            "Hello",
            "email/invite.txt",
            customer={"display_name": "Ada"},
            policy=app.extensions["portal.account_policy"],
            link="http://x/invite/t",
            hours=72,
        )


def test_mail_is_delivered_over_smtp(tmp_path: Path, database_url: str, smtp_server):
    controller, handler = smtp_server
    port = controller.port
    config = write_config(
        tmp_path,
        database_url,
        mail={
            "backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
        },
    )
    app = create_app({"SETTINGS": load_settings(config, environ={}), "ARGON2_CHEAP": True})
    try:
        _queue(app)
        assert len(handler.received) == 1
        assert handler.received[0]["To"] == "ada@example.com"
        assert "http://x/invite/t" in handler.received[0].get_payload()
        with app.app_context():
            row = db.session().scalar(sa.select(OutboundEmail))
            assert row is not None and row.status is MailStatus.SENT
    finally:
        with app.app_context(), db.transaction() as s:
            s.execute(sa.delete(OutboundEmail))
        app.extensions["portal.db"].engine.dispose()


@pytest.fixture
def memory_app(settings) -> Iterator[tuple[Flask, MemoryMailer]]:
    mailer = MemoryMailer()
    app = create_app({"SETTINGS": settings, "MAILER": mailer, "ARGON2_CHEAP": True})
    yield app, mailer
    with app.app_context(), db.transaction() as s:
        s.execute(sa.delete(OutboundEmail))
    app.extensions["portal.db"].engine.dispose()


def _row(app: Flask) -> OutboundEmail:
    with app.app_context():
        row = db.session().scalar(sa.select(OutboundEmail))
        assert row is not None
        return row


def _make_due(app: Flask) -> None:
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(OutboundEmail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_failed_delivery_is_kept_and_retried_with_backoff(memory_app):
    app, mailer = memory_app
    mailer.fail_next = 1
    _queue(app)
    row = _row(app)
    assert row.status is MailStatus.QUEUED
    assert row.attempts == 1
    assert row.next_attempt_at > utcnow() + timedelta(seconds=50)  # backed off, not hammering
    with app.app_context():
        assert deliver() == 0  # not due yet
    _make_due(app)
    with app.app_context():
        assert deliver() == 1
    assert _row(app).status is MailStatus.SENT
    assert len(mailer.sent) == 1


def test_mail_is_parked_after_the_attempt_limit(memory_app):
    app, mailer = memory_app
    mailer.fail_next = 99
    _queue(app)
    for _ in range(4):
        _make_due(app)
        with app.app_context():
            deliver()
    row = _row(app)
    assert row.status is MailStatus.PARKED
    assert row.attempts == 5
    assert row.last_error == "injected failure"
    assert mailer.sent == []


def test_a_message_is_sent_once_even_when_delivered_twice(memory_app):
    app, mailer = memory_app
    _queue(app)
    _make_due(app)
    with app.app_context():
        assert deliver() == 0  # already sent: status is no longer queued
    assert len(mailer.sent) == 1


def test_nothing_is_sent_when_the_unit_of_work_rolls_back(memory_app):
    app, mailer = memory_app
    with pytest.raises(RuntimeError), app.app_context(), db.transaction() as s:
        queue_email(
            s,
            "ada@example.com",
            "Hello",
            "email/invite.txt",
            customer={"display_name": "Ada"},
            policy=app.extensions["portal.account_policy"],
            link="x",
            hours=1,
        )
        raise RuntimeError("boom")
    assert mailer.sent == []
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count(OutboundEmail.id))) == 0


class Counting(Message):
    """Keeps each message's subject with the connection (client port) it came on."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[str, object]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        message = self.prepare_message(session, envelope)
        self.received.append((str(message["Subject"]), session.peer))
        return "250 OK"

    def handle_message(self, message) -> None:  # type: ignore[override]
        pass


def _mailer(port: int) -> SmtpMailer:
    settings = MailSettings(
        backend="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_security="none"
    )
    return SmtpMailer(settings)


def _note(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", f"{n}"
    message.set_content("hello")
    return message


def test_a_batch_of_mail_shares_one_smtp_connection_and_survives_a_dropped_one():
    handler = Counting()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = _mailer(port)
        with batch(mailer):
            for n in range(3):
                mailer.send(_note(n))
            assert mailer._open is not None
            mailer._open.sock.shutdown(socket.SHUT_RDWR)  # the connection drops while idle
            mailer.send(_note(3))  # sent on a fresh connection, not lost
        assert mailer._open is None  # closed with the batch
        mailer.send(_note(4))  # outside a batch: a connection of its own
        assert [subject for subject, _ in handler.received] == ["0", "1", "2", "3", "4"]
        peers = [peer for _, peer in handler.received]
        assert peers[0] == peers[1] == peers[2]  # the batch's one connection
        assert len(set(peers)) == 3  # then a fresh one after the drop, and one of its own
    finally:
        controller.stop()
