"""Shared fixtures: a migrated database (SQLite, or PostgreSQL via PORTAL_TEST_DATABASE_URL),
an app per test on fresh tables, a client, and helpers to log in and read the mailbox."""

from __future__ import annotations

import email
import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from email.message import Message
from pathlib import Path
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import crypto, db
from portal.accounts.models import MemberRole, PortalUser, Role, TotpFactor
from portal.accounts.service import create_user
from portal.app import create_app
from portal.billing.models import Customer, Invoice, InvoiceLine
from portal.config import Settings, load_settings
from portal.db import utcnow
from portal.migrate import upgrade
from portal.models import Base

PASSWORD = "correct-horse-battery-staple-9"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _postgres_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the whole run: its own PostgreSQL schema, or a SQLite file."""
    base = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        upgrade(url)
        yield url
        return
    schema = f"portal_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _postgres_url(base, schema)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def write_config(folder: Path, database_url: str, **sections: dict[str, Any]) -> Path:
    """A config.toml for tests (secrets given, so nothing is generated)."""
    values: dict[str, dict[str, Any]] = {
        "portal": {
            "instance_path": str(folder),
            "database_url": database_url,
            "secret_key": "test-secret-key-not-for-production",
            "encryption_key": "3Fj0y9XkP3v6n8fK2mQ5sT7wZ1bC4dE6gH8jL0nP2rU=",
        },
        "mail": {"backend": "mailbox", "mailbox_dir": str(folder / "mailbox")},
    }
    for name, extra in sections.items():
        values.setdefault(name, {}).update(extra)
    lines = []
    for name, table in values.items():
        lines.append(f"[{name}]")
        for key, value in table.items():
            lines.append(f"{key} = {value!r}" if isinstance(value, int) else f'{key} = "{value}"')
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(write_config(tmp_path, database_url), environ={})


def _wipe(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:  # TRUNCATE (above) fires no DELETE trigger; here the log's are set aside
            triggers = conn.execute(
                sa.text(
                    "SELECT name, sql FROM sqlite_master "
                    "WHERE type = 'trigger' AND tbl_name = 'audit_event'"
                )
            ).all()
            for name, _ in triggers:
                conn.execute(sa.text(f'DROP TRIGGER "{name}"'))
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
            for _, sql in triggers:  # the append-only log, as the migration made it
                conn.execute(sa.text(sql))


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app({"SETTINGS": settings, "TESTING": True, "ARGON2_CHEAP": True})
    yield app
    engine = app.extensions["portal.db"].engine
    _wipe(engine)
    engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token the page at `path` hands out to this client."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post_form(client: FlaskClient, path: str, data: dict[str, str], page: str | None = None) -> Any:
    """POST a form with a fresh CSRF token taken from `page` (default: the same path)."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page or path)})


@pytest.fixture
def make_customer(app: Flask) -> Callable[..., Customer]:
    counter = iter(range(1, 10_000))

    def make(name: str = "Ada Lovelace", **fields: Any) -> Customer:
        with app.app_context(), db.transaction() as s:
            customer = Customer(
                realm_id="test",
                qbo_id=str(next(counter)),
                display_name=name,
                email=fields.pop("email", None),
                **fields,
            )
            s.add(customer)
        return customer

    return make


@pytest.fixture
def make_invoice(app: Flask) -> Callable[..., Invoice]:
    counter = iter(range(1, 100_000))

    def make(
        customer: Customer,
        total: str,
        balance: str | None = None,
        due: date | None = None,
        txn: date | None = None,
    ) -> Invoice:
        n = next(counter)
        with app.app_context(), db.transaction() as s:
            invoice = Invoice(
                realm_id="test",
                qbo_id=f"inv{n}",
                doc_number=f"{1000 + n}",
                customer_id=customer.id,
                txn_date=txn or date(2026, 1, 1),
                due_date=due,
                total_amt=Decimal(total),
                balance=Decimal(balance if balance is not None else total),
            )
            invoice.lines.append(
                InvoiceLine(position=1, amount=Decimal(total), item_name="Service")
            )
            s.add(invoice)
        return invoice

    return make


@pytest.fixture
def make_user(app: Flask, make_customer: Callable[..., Customer]) -> Callable[..., PortalUser]:
    def make(
        username: str = "ada",
        email: str | None = None,
        password: str = PASSWORD,
        role: Role = Role.CUSTOMER,
        customer: Customer | None = None,
        two_factor: bool | None = None,
        member_role: MemberRole | None = None,
    ) -> PortalUser:
        """A login; staff come with an authenticator app set up (they must have a second
        factor), customers without one unless `two_factor` says so."""
        if role is Role.CUSTOMER and customer is None:
            customer = make_customer(f"Customer of {username}")
        with app.app_context(), db.transaction() as s:
            user = create_user(
                s,
                app.extensions["portal.account_policy"],
                username=username,
                email=email or f"{username}@example.com",
                password=password,
                role=role,
                customer_id=customer.id if customer else None,
                member_role=member_role,
            )
            if two_factor if two_factor is not None else role is not Role.CUSTOMER:
                s.flush()
                enrol_app(s, user)
            return user

    return make


# The authenticator app every test login with a second factor uses (see enrol_app).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def enrol_app(s: sa.orm.Session, user: PortalUser, secret: str = TOTP_SECRET) -> None:
    """Set up a confirmed authenticator app for `user` (inside an app context)."""
    s.add(TotpFactor(user_id=user.id, secret=crypto.encrypt(secret), confirmed_at=utcnow()))
    user.two_factor = True


def app_code(app: Flask, identifier: str) -> str:
    """The current code of the user's app, as their phone would show it. The step last used
    is forgotten first: tests sign the same person in several times within 30 seconds."""
    with app.app_context(), db.transaction() as s:
        user = s.scalar(
            sa.select(PortalUser).where(
                sa.or_(
                    PortalUser.username_key == identifier.lower(),
                    PortalUser.email_key == identifier.lower(),
                )
            )
        )
        assert user is not None, identifier
        factor = s.get(TotpFactor, user.id)
        assert factor is not None, f"{identifier} has no authenticator app"
        factor.last_step = None
        return pyotp.TOTP(crypto.decrypt(factor.secret)).now()


def login(client: FlaskClient, identifier: str, password: str = PASSWORD) -> Any:
    """Log in through the form, as a person would; a login with an authenticator app types
    its current code in the second step."""
    response = post_form(client, "/login", {"identifier": identifier, "password": password})
    if response.status_code == 302 and response.headers["Location"].endswith("/login/verify"):
        app = client.application
        code = app_code(app, identifier)
        return post_form(client, "/login/verify", {"method": "app", "code": code})
    return response


def text_of(message: Message) -> str:
    """The plain-text body of a message, multipart or not."""
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("the message has no text part")


class Mailbox:
    """The .eml files the mailbox backend wrote."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def messages(self) -> list[Message]:
        if not self.folder.exists():
            return []
        return [email.message_from_bytes(p.read_bytes()) for p in sorted(self.folder.glob("*.eml"))]

    def last_body(self) -> str:
        """The text of the last message (its plain-text part when it has HTML too)."""
        messages = self.messages()
        assert messages, "no e-mail was sent"
        return text_of(messages[-1])

    def last_link(self) -> str:
        match = re.search(r"https?://\S+", self.last_body())
        assert match, "the e-mail has no link"
        return match.group(0)


@pytest.fixture
def mailbox(settings: Settings) -> Mailbox:
    return Mailbox(settings.mailbox)
