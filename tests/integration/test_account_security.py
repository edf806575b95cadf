"""Changing username and password, and resetting a forgotten password by e-mail."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import AccountToken, PortalUser
from portal.db import utcnow
from tests.conftest import PASSWORD, Mailbox, login, post_form

NEW = "violet-tram-sings-at-dusk"


def change_password(client: FlaskClient, current: str, new: str):
    return post_form(
        client,
        "/account/password",
        {"current_password": current, "new_password": new, "confirm": new},
        page="/account",
    )


def test_password_change_needs_the_current_password(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    response = change_password(client, "not-my-password-at-all", NEW)
    assert response.status_code == 400
    assert "Your current password is not correct." in response.get_data(as_text=True)
    fresh = client.application.test_client()
    assert login(fresh, "ada", PASSWORD).status_code == 302  # unchanged


def test_changed_password_replaces_the_old_one(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    assert change_password(client, PASSWORD, NEW).status_code == 302
    assert client.get("/").status_code == 200  # this session stays logged in
    other = client.application.test_client()
    assert login(other, "ada", PASSWORD).status_code == 401
    assert login(other, "ada", NEW).status_code == 302


def test_password_change_logs_out_other_sessions(client: FlaskClient, make_user):
    make_user("ada")
    other = client.application.test_client()
    login(other, "ada")
    login(client, "ada")
    change_password(client, PASSWORD, NEW)
    assert other.get("/").status_code == 302


def test_the_last_five_passwords_cannot_be_reused(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    history = [
        PASSWORD,
        "violet-tram-sings-at-dusk",
        "amber-kite-drifts-north",
        "seven-quiet-owls-dance",
        "brass-lantern-glows-late",
    ]
    for old, new in pairwise(history):
        assert change_password(client, old, new).status_code == 302
    refused = change_password(client, history[-1], PASSWORD)
    assert refused.status_code == 400
    assert "not used for your last 5 passwords" in refused.get_data(as_text=True)
    assert change_password(client, history[-1], "granite-otters-whistle-loud").status_code == 302
    assert change_password(client, "granite-otters-whistle-loud", PASSWORD).status_code == 302


def test_weak_new_password_is_refused_with_the_reason(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    response = change_password(client, PASSWORD, "password")
    assert response.status_code == 400
    assert "at least 12 characters" in response.get_data(as_text=True)


def test_username_can_be_changed_and_is_unique_regardless_of_case(client: FlaskClient, make_user):
    make_user("grace")
    make_user("ada")
    login(client, "ada")
    taken = post_form(client, "/account/username", {"username": "GRACE"}, page="/account")
    assert taken.status_code == 400
    assert "That username is taken" in taken.get_data(as_text=True)
    ok = post_form(client, "/account/username", {"username": "Countess.Ada"}, page="/account")
    assert ok.status_code == 302
    other = client.application.test_client()
    assert login(other, "countess.ada").status_code == 302
    assert login(client.application.test_client(), "ada").status_code == 401


def request_reset(client: FlaskClient, identifier: str):
    return post_form(client, "/forgot-password", {"identifier": identifier})


def test_forgotten_password_is_reset_through_the_emailed_link(
    client: FlaskClient, make_user, mailbox: Mailbox
):
    make_user("ada", email="ada@example.com")
    response = request_reset(client, "ADA@example.com")
    assert response.status_code == 302
    assert len(mailbox.messages()) == 1
    assert mailbox.messages()[0]["To"] == "ada@example.com"
    path = urlsplit(mailbox.last_link()).path
    assert path.startswith("/reset-password/")
    done = post_form(client, path, {"new_password": NEW, "confirm": NEW})
    assert done.status_code == 302
    assert login(client, "ada", NEW).status_code == 302


def test_reset_request_never_reveals_whether_the_account_exists(
    client: FlaskClient, make_user, mailbox: Mailbox
):
    make_user("ada")
    known = request_reset(client, "ada")
    known_flash = client.get("/login").get_data(as_text=True)
    unknown = request_reset(client, "nobody@example.com")
    unknown_flash = client.get("/login").get_data(as_text=True)
    assert known.status_code == unknown.status_code == 302
    assert "If an account matches" in known_flash
    assert "If an account matches" in unknown_flash
    assert len(mailbox.messages()) == 1


def test_reset_link_works_only_once(client: FlaskClient, make_user, mailbox: Mailbox):
    make_user("ada")
    request_reset(client, "ada")
    path = urlsplit(mailbox.last_link()).path
    assert post_form(client, path, {"new_password": NEW, "confirm": NEW}).status_code == 302
    again = client.get(path)
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)
    assert login(client, "ada", NEW).status_code == 302


def test_expired_reset_link_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, make_user, mailbox: Mailbox
):
    make_user("ada")
    request_reset(client, "ada")
    path = urlsplit(mailbox.last_link()).path
    token_page = client.get(path).get_data(as_text=True)  # valid: take its CSRF token
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert "csrf_token" in token_page
    response = post_form(client, path, {"new_password": NEW, "confirm": NEW}, page="/login")
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert login(client, "ada", PASSWORD).status_code == 302


def test_tampered_reset_link_is_refused(client: FlaskClient, make_user, mailbox: Mailbox):
    make_user("ada")
    request_reset(client, "ada")
    path = urlsplit(mailbox.last_link()).path
    response = client.get(path[:-3] + "xyz")
    assert response.status_code == 400
    assert "not valid" in response.get_data(as_text=True)


def test_password_reset_logs_out_existing_sessions(
    client: FlaskClient, make_user, mailbox: Mailbox
):
    make_user("ada")
    logged_in = client.application.test_client()
    login(logged_in, "ada")
    request_reset(client, "ada")
    path = urlsplit(mailbox.last_link()).path
    post_form(client, path, {"new_password": NEW, "confirm": NEW})
    assert logged_in.get("/").status_code == 302


def test_reset_email_link_is_not_stored_in_plain_text(
    app: Flask, client: FlaskClient, make_user, mailbox: Mailbox
):
    make_user("ada")
    request_reset(client, "ada")
    link = mailbox.last_link()
    with app.app_context():
        stored = db.session().execute(sa.text("SELECT body_encrypted FROM outbound_email")).scalar()
        tokens = db.session().execute(sa.text("SELECT token_hash FROM account_token")).scalar()
    assert link.rsplit("/", 1)[1] not in str(stored)
    assert link.rsplit("/", 1)[1] not in str(tokens)


def test_user_rows_keep_only_an_argon2id_hash(app: Flask, make_user):
    make_user("ada")
    with app.app_context():
        user = db.session().scalar(sa.select(PortalUser))
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_a_reset_voids_every_other_reset_link_sent_before_it(
    client: FlaskClient, make_user, mailbox: Mailbox
):
    make_user("ada")
    request_reset(client, "ada")
    first = urlsplit(mailbox.last_link()).path
    request_reset(client, "ada")
    second = urlsplit(mailbox.last_link()).path
    assert first != second
    assert post_form(client, second, {"new_password": NEW, "confirm": NEW}).status_code == 302
    stale = client.get(first)
    assert stale.status_code == 400
    assert "This link cannot be used" in stale.get_data(as_text=True)
    assert "This link has expired. Ask for a new one." in stale.get_data(as_text=True)
    assert login(client, "ada", NEW).status_code == 302


def test_a_password_change_voids_an_outstanding_reset_link(
    client: FlaskClient, make_user, mailbox: Mailbox
):
    make_user("ada")
    request_reset(client, "ada")
    path = urlsplit(mailbox.last_link()).path
    login(client, "ada")
    assert change_password(client, PASSWORD, NEW).status_code == 302
    stale = client.get(path)
    assert stale.status_code == 400
    assert "This link has expired. Ask for a new one." in stale.get_data(as_text=True)
    other = client.application.test_client()
    later = "amber-kite-drifts-north"
    refused = post_form(other, path, {"new_password": later, "confirm": later}, page="/login")
    assert refused.status_code == 400
    assert "This link cannot be used" in refused.get_data(as_text=True)
    assert login(other, "ada", NEW).status_code == 302
