"""Changing the login e-mail: a link goes to the new address and nothing changes until it is
opened; then the old and the new address are both told. Links work once, for their login only."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import AccountToken, LoginSession, PortalUser, TokenPurpose
from portal.db import utcnow
from tests.conftest import PASSWORD, Mailbox, csrf_token, login, post_form, text_of

PAGE = "/account/email"
CHANGED = "The login e-mail of your"


def email_of(app: Flask, username: str) -> str:
    with app.app_context():
        found = db.session().scalar(sa.select(PortalUser).where(PortalUser.username == username))
        assert found is not None
        return found.email


def ask(client: FlaskClient, new_email: str):
    return post_form(client, PAGE, {"email": new_email})


def link_path(mailbox: Mailbox) -> str:
    """The path of the confirmation link in the last e-mail."""
    last = mailbox.messages()[-1]
    assert "Confirm your new" in last["Subject"]
    return urlsplit(mailbox.last_link()).path


def security_mails(mailbox: Mailbox) -> list[tuple[str, str]]:
    found = []
    for message in mailbox.messages():
        if CHANGED in message["Subject"]:
            found.append((message["To"], text_of(message)))
    return found


@pytest.fixture
def ada(make_user) -> PortalUser:
    return make_user("ada")


@pytest.fixture
def ada_client(app: Flask, ada: PortalUser) -> FlaskClient:
    client = app.test_client()
    login(client, "ada")
    return client


def test_the_new_address_gets_a_link_and_nothing_changes_until_it_is_opened(
    app: Flask, ada_client: FlaskClient, mailbox: Mailbox
):
    assert ada_client.get("/account").status_code == 200
    assert 'href="/account/email"' in ada_client.get("/account").get_data(as_text=True)
    assert ada_client.get(PAGE).status_code == 200

    answer = ask(ada_client, "  Ada.New@Example.com ")

    assert answer.status_code == 302 and answer.headers["Location"] == "/account"
    assert mailbox.messages()[-1]["To"] == "Ada.New@example.com"
    assert "ada.new@example.com" in mailbox.last_body().lower()
    assert email_of(app, "ada") == "ada@example.com"
    with app.app_context():
        row = db.session().scalar(
            sa.select(AccountToken).where(AccountToken.purpose == TokenPurpose.EMAIL_CHANGE)
        )
        assert row is not None and row.email == "Ada.New@example.com"
        assert timedelta(hours=23) < row.expires_at - utcnow() <= timedelta(hours=24)


def test_opening_the_link_changes_the_login_e_mail_and_tells_both_addresses(
    app: Flask, ada_client: FlaskClient, mailbox: Mailbox
):
    ask(ada_client, "ada.new@example.com")
    opened = ada_client.get(link_path(mailbox))

    assert opened.status_code == 302 and opened.headers["Location"] == "/account"
    assert email_of(app, "ada") == "ada.new@example.com"
    with app.app_context():
        user = db.session().scalar(sa.select(PortalUser).where(PortalUser.username == "ada"))
        assert user is not None and user.email_key == "ada.new@example.com"
    told = dict(security_mails(mailbox))
    assert set(told) == {"ada@example.com", "ada.new@example.com"}
    for body in told.values():
        assert "changed from ada@example.com to ada.new@example.com" in body
    # The new address signs in; the old one no longer does.
    assert login(app.test_client(), "ada.new@example.com").status_code == 302
    assert login(app.test_client(), "ada@example.com").status_code == 401


def test_the_link_works_without_being_logged_in(
    app: Flask, ada_client: FlaskClient, mailbox: Mailbox
):
    ask(ada_client, "ada.new@example.com")
    opened = app.test_client().get(link_path(mailbox))
    assert opened.status_code == 302 and opened.headers["Location"] == "/login"
    assert email_of(app, "ada") == "ada.new@example.com"


def test_the_link_works_once(app: Flask, ada_client: FlaskClient, mailbox: Mailbox):
    ask(ada_client, "ada.new@example.com")
    path = link_path(mailbox)
    assert ada_client.get(path).status_code == 302

    again = ada_client.get(path)

    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)
    assert len(security_mails(mailbox)) == 2


def test_a_broken_or_expired_link_is_refused(app: Flask, ada_client: FlaskClient, mailbox: Mailbox):
    ask(ada_client, "ada.new@example.com")
    path = link_path(mailbox)
    assert ada_client.get(path[:-3] + "xyz").status_code == 400
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))

    expired = ada_client.get(path)

    assert expired.status_code == 400
    assert "expired" in expired.get_data(as_text=True)
    assert email_of(app, "ada") == "ada@example.com"


def test_a_newer_request_ends_the_earlier_link(
    app: Flask, ada_client: FlaskClient, mailbox: Mailbox
):
    ask(ada_client, "first@example.com")
    first = link_path(mailbox)
    ask(ada_client, "second@example.com")
    second = link_path(mailbox)

    assert ada_client.get(first).status_code == 400
    assert ada_client.get(second).status_code == 302
    assert email_of(app, "ada") == "second@example.com"


def test_an_address_another_login_uses_is_refused_when_asked(
    app: Flask, ada_client: FlaskClient, make_user, mailbox: Mailbox
):
    make_user("bob")
    before = len(mailbox.messages())

    answer = ask(ada_client, "BOB@example.com")

    assert answer.status_code == 400
    assert "already uses that e-mail" in answer.get_data(as_text=True)
    assert len(mailbox.messages()) == before


@pytest.mark.parametrize("bad", ["not-an-address", "ada@", "", "a" * 300 + "@example.com"])
def test_what_is_not_an_address_is_refused(
    app: Flask, ada_client: FlaskClient, mailbox: Mailbox, bad: str
):
    before = len(mailbox.messages())
    assert ask(ada_client, bad).status_code == 400
    assert len(mailbox.messages()) == before


def test_the_same_address_is_not_a_change(app: Flask, ada_client: FlaskClient):
    answer = ask(ada_client, "ada@example.com")
    assert answer.status_code == 400
    assert "already your login e-mail" in answer.get_data(as_text=True)


def test_an_address_taken_before_the_link_is_opened_is_refused_then(
    app: Flask, ada_client: FlaskClient, make_user, mailbox: Mailbox
):
    ask(ada_client, "shared@example.com")
    path = link_path(mailbox)
    make_user("carol", email="Shared@example.com")

    opened = ada_client.get(path)

    assert opened.status_code == 400
    assert "already uses that e-mail" in opened.get_data(as_text=True)
    assert email_of(app, "ada") == "ada@example.com"
    assert security_mails(mailbox) == []


def test_asking_after_ten_minutes_without_proof_does_nothing_and_asks_who_you_are(
    app: Flask, ada_client: FlaskClient, mailbox: Mailbox
):
    token = csrf_token(ada_client, "/account")
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(LoginSession).values(verified_at=utcnow() - timedelta(minutes=11)))
    before = len(mailbox.messages())

    answer = ada_client.post(PAGE, data={"email": "ada.new@example.com", "csrf_token": token})

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/account/confirm")
    assert len(mailbox.messages()) == before
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(AccountToken)) == 0
    assert ada_client.get(PAGE).headers["Location"].startswith("/account/confirm")


def test_one_customers_link_cannot_be_used_while_logged_in_as_another(
    app: Flask, ada_client: FlaskClient, make_user, mailbox: Mailbox
):
    ask(ada_client, "ada.new@example.com")
    path = link_path(mailbox)
    make_user("bob")
    bob = app.test_client()
    login(bob, "bob")

    refused = bob.get(path)

    assert refused.status_code == 400
    assert "another login" in refused.get_data(as_text=True)
    assert email_of(app, "ada") == "ada@example.com"
    assert email_of(app, "bob") == "bob@example.com"
    # Refused, not spent: Ada's own link still works for her.
    assert ada_client.get(path).status_code == 302
    assert email_of(app, "ada") == "ada.new@example.com"


def test_changing_the_e_mail_ends_reset_links_sent_to_the_old_address(
    app: Flask, ada_client: FlaskClient, mailbox: Mailbox
):
    post_form(app.test_client(), "/forgot-password", {"identifier": "ada"})
    reset = urlsplit(mailbox.last_link()).path
    ask(ada_client, "ada.new@example.com")
    ada_client.get(link_path(mailbox))

    assert app.test_client().get(reset).status_code == 400


def test_a_password_change_voids_a_pending_e_mail_change_link(app, client, make_user, mailbox):
    make_user("ada", email="ada@example.com")
    login(client, "ada")
    ask(client, "new@example.com")
    path = link_path(mailbox)
    new = "another-long-passphrase-77"
    post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": new, "confirm": new},
        page="/account",
    )
    assert client.get(path).status_code == 400
