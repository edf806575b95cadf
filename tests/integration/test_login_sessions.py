"""Logins are server-side sessions: logging out or changing the password ends every copy."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_login.utils import encode_cookie

from portal import db
from portal.accounts import sessions
from portal.accounts.models import LoginSession
from portal.db import utcnow
from tests.conftest import PASSWORD, Mailbox, login, post_form

NEW = "violet-tram-sings-at-dusk"
COOKIE = "portal_session"


def _copy(client: FlaskClient) -> FlaskClient:
    """A second browser holding a copy of this one's session cookie."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    thief = client.application.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def _logged_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def _rows(app: Flask) -> list[LoginSession]:
    with app.app_context():
        return list(db.session().scalars(sa.select(LoginSession).order_by(LoginSession.id)))


def test_a_copied_cookie_stops_working_after_logout(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    thief = _copy(client)
    assert _logged_in(thief)
    post_form(client, "/logout", {}, page="/account")
    assert not _logged_in(thief)
    assert not _logged_in(client)


def test_a_password_change_ends_every_other_session_and_keeps_this_one(
    client: FlaskClient, make_user
):
    make_user("ada")
    login(client, "ada")
    thief = _copy(client)
    other = client.application.test_client()
    login(other, "ada")
    response = post_form(
        other,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW, "confirm": NEW},
        page="/account",
    )
    assert response.status_code == 302
    assert not _logged_in(client)
    assert not _logged_in(thief)
    assert _logged_in(other)


def test_a_password_reset_ends_every_copy_of_every_session(
    client: FlaskClient, make_user, mailbox: Mailbox
):
    make_user("ada")
    logged_in = client.application.test_client()
    login(logged_in, "ada")
    thief = _copy(logged_in)
    post_form(client, "/forgot-password", {"identifier": "ada"})
    path = urlsplit(mailbox.last_link()).path
    post_form(client, path, {"new_password": NEW, "confirm": NEW})
    assert not _logged_in(logged_in)
    assert not _logged_in(thief)


def test_a_remember_cookie_does_not_bring_a_revoked_session_back(
    app: Flask, client: FlaskClient, make_user
):
    ada = make_user("ada")
    login(client, "ada")
    thief = _copy(client)
    post_form(client, "/logout", {}, page="/account")
    with app.test_request_context():
        remember = encode_cookie(str(ada.id))
    thief.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), remember)
    assert not _logged_in(thief)


def test_a_session_unused_for_its_lifetime_has_ended(app: Flask, client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    stale = utcnow() - app.permanent_session_lifetime - timedelta(minutes=1)
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(LoginSession).values(last_seen_at=stale))
    assert not _logged_in(client)


def test_last_seen_is_written_at_most_once_a_minute(app: Flask, client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    first = _rows(app)[0].last_seen_at
    assert _logged_in(client)
    assert _rows(app)[0].last_seen_at == first
    earlier = utcnow() - timedelta(minutes=5)
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(LoginSession).values(last_seen_at=earlier))
    assert _logged_in(client)
    assert _rows(app)[0].last_seen_at > earlier + timedelta(minutes=4)


def test_a_session_keeps_only_a_hash_of_its_id_and_a_short_user_agent(
    client: FlaskClient, make_user
):
    make_user("ada")
    client.environ_base["HTTP_USER_AGENT"] = "x" * 1000
    login(client, "ada")
    (row,) = _rows(client.application)
    cookie_value = client.get_cookie(COOKIE)
    assert cookie_value is not None
    assert len(row.token_hash) == 64 and row.token_hash not in cookie_value.value
    assert len(row.user_agent) == sessions.USER_AGENT_LENGTH


def test_someone_cannot_revoke_another_users_session(app: Flask, client: FlaskClient, make_user):
    make_user("ada")
    bob = make_user("bob")
    login(client, "ada")
    (ada_session,) = _rows(app)
    with app.app_context(), db.transaction() as s:
        assert not sessions.revoke(s, bob.id, ada_session.id)
    assert _logged_in(client)


def test_a_user_lists_their_sessions_and_signs_one_out(app: Flask, make_user):
    ada = make_user("ada")
    phone, laptop = app.test_client(), app.test_client()
    login(phone, "ada")
    login(laptop, "ada")
    lifetime = app.permanent_session_lifetime
    with app.app_context(), db.transaction() as s:
        listed = sessions.active(s, ada.id, lifetime)
        assert len(listed) == 2
        assert sessions.revoke(s, ada.id, min(r.id for r in listed))
        assert not sessions.revoke(s, ada.id, min(r.id for r in listed))  # already ended
    assert not _logged_in(phone)
    assert _logged_in(laptop)
    with app.app_context():
        assert len(sessions.active(db.session(), ada.id, lifetime)) == 1


def _own_session_ids(app: Flask, user_id: int) -> list[int]:
    return [r.id for r in _rows(app) if r.user_id == user_id and r.revoked_at is None]


def test_the_security_page_lists_my_sessions_and_signs_one_out(app: Flask, make_user):
    ada = make_user("ada")
    phone, laptop = app.test_client(), app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = "PhoneBrowser/1.0"
    login(phone, "ada")
    login(laptop, "ada")
    page = laptop.get("/account/security").get_data(as_text=True)
    assert "PhoneBrowser/1.0" in page and "This device" in page
    phone_id = _own_session_ids(app, ada.id)[0]
    response = post_form(laptop, f"/account/security/{phone_id}/sign-out", {}, "/account/security")
    assert response.status_code == 302
    assert not _logged_in(phone)
    assert _logged_in(laptop)


def test_the_security_page_cannot_sign_out_someone_elses_session(app: Flask, make_user):
    ada = make_user("ada")
    make_user("bob")
    victim, mallory = app.test_client(), app.test_client()
    login(victim, "ada")
    login(mallory, "bob")
    (ada_id,) = _own_session_ids(app, ada.id)
    path = f"/account/security/{ada_id}/sign-out"
    assert post_form(mallory, path, {}, "/account").status_code == 404
    assert mallory.post(path).status_code == 400  # and never without the CSRF token
    assert _logged_in(victim)


def test_signing_out_every_other_session_keeps_this_one(app: Flask, make_user):
    make_user("ada")
    phone, laptop = app.test_client(), app.test_client()
    login(phone, "ada")
    login(laptop, "ada")
    response = post_form(laptop, "/account/security/sign-out-others", {}, "/account/security")
    assert response.status_code == 302
    assert "Signed out 1 other session." in laptop.get("/account/security").get_data(as_text=True)
    assert not _logged_in(phone)
    assert _logged_in(laptop)
