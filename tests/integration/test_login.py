"""Customer login: username or e-mail, one error for every failure, rate limits, cookies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.accounts.models import PortalUser
from portal.app import create_app
from portal.config import load_settings
from tests.conftest import PASSWORD, login, post_form, write_config


def test_customer_logs_in_with_username_and_sees_the_dashboard(client: FlaskClient, make_user):
    make_user("ada")
    response = login(client, "ada")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Balance due" in page


@pytest.mark.parametrize("identifier", ["ADA@Example.com", "  ada@example.com ", "Ada"])
def test_customer_logs_in_with_email_or_username_in_any_case(
    client: FlaskClient, make_user, identifier: str
):
    make_user("ada", email="ada@example.com")
    assert login(client, identifier).status_code == 302


def test_unknown_user_and_wrong_password_get_the_same_error(client: FlaskClient, make_user):
    make_user("ada")
    unknown = login(client, "nobody", PASSWORD)
    wrong = login(client, "ada", "wrong-password-123456")
    assert unknown.status_code == wrong.status_code == 401
    message = "That username or e-mail and password do not match an account."
    assert message in unknown.get_data(as_text=True)
    assert message in wrong.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still logged out


def test_login_is_rate_limited_per_account_with_a_clear_message(client: FlaskClient, make_user):
    make_user("ada")
    for _ in range(5):
        assert login(client, "ada", "wrong-password-123456").status_code == 401
    locked = login(client, "ada", PASSWORD)  # even the right password waits now
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.get_data(as_text=True)
    assert "try again in 1 minute " in locked.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_is_rate_limited_per_address_across_accounts(tmp_path, database_url: str, make_user):
    config = write_config(tmp_path, database_url, security={"login_attempts_per_address": 3})
    app = create_app({"SETTINGS": load_settings(config, environ={}), "ARGON2_CHEAP": True})
    client = app.test_client()
    for name in ("one", "two", "three"):
        assert login(client, name, "wrong-password-123456").status_code == 401
    assert login(client, "four", "wrong-password-123456").status_code == 429
    app.extensions["portal.db"].engine.dispose()


def test_successful_login_clears_the_account_failures(client: FlaskClient, make_user):
    make_user("ada")
    for _ in range(4):
        login(client, "ada", "wrong-password-123456")
    assert login(client, "ada").status_code == 302
    post_form(client, "/logout", {}, page="/account")
    for _ in range(4):
        assert login(client, "ada", "wrong-password-123456").status_code == 401
    assert login(client, "ada").status_code == 302


def test_inactive_user_cannot_log_in(app: Flask, client: FlaskClient, make_user):
    user = make_user("ada")
    with app.app_context():
        from portal import db

        with db.transaction() as s:
            s.get(PortalUser, user.id).active = False  # type: ignore[union-attr]
    assert login(client, "ada").status_code == 401


def test_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient, make_user):
    make_user("ada")
    response = login(client, "ada")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "portal_session" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests


def test_session_cookie_is_secure_when_served_over_https(
    tmp_path, database_url: str, make_user: Callable[..., PortalUser]
):
    config = write_config(tmp_path, database_url, portal={"public_url": "https://pay.example.com"})
    app = create_app({"SETTINGS": load_settings(config, environ={}), "ARGON2_CHEAP": True})
    make_user("ada")
    client = app.test_client()
    response = client.get("/login", base_url="https://pay.example.com")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "portal_session" in c)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    app.extensions["portal.db"].engine.dispose()


def test_login_redirects_only_to_paths_on_this_site(client: FlaskClient, make_user):
    make_user("ada")
    token_page = "/login?next=//evil.example/steal"
    response = post_form(client, token_page, {"identifier": "ada", "password": PASSWORD})
    assert response.headers["Location"] == "/"
    client.post("/logout")


def test_logout_ends_the_session(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    response = post_form(client, "/logout", {}, page="/account")
    assert response.status_code == 302
    assert client.get("/").status_code == 302
    assert "/login" in client.get("/").headers["Location"]


def test_logout_by_get_or_without_csrf_is_refused(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still logged in


def test_pages_carry_security_headers(client: FlaskClient):
    headers = client.get("/login").headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WRONG = "wrong-password-123456"


@pytest.fixture
def at(app: Flask) -> Callable[[datetime], None]:
    """Pin the app's clock at a moment."""

    def pin(moment: datetime) -> None:
        app.config["CLOCK"] = lambda: moment

    return pin


def test_username_and_email_of_one_account_share_one_failure_count(
    client: FlaskClient, make_user, at
):
    make_user("ada", email="ada@example.com")
    at(T0)
    for _ in range(3):
        assert login(client, "ada", WRONG).status_code == 401
    for _ in range(2):
        assert login(client, "ADA@example.com", WRONG).status_code == 401
    assert login(client, "ada@example.com", PASSWORD).status_code == 429
    assert login(client, "Ada", PASSWORD).status_code == 429


def test_unknown_identifiers_are_counted_apart_from_real_accounts(
    client: FlaskClient, make_user, at
):
    ada = make_user("ada", email="ada@example.com")
    at(T0)
    for name in (f"user:{ada.id}", "nobody", "nobody@example.com"):
        for _ in range(5):
            assert login(client, name, WRONG).status_code == 401
    assert login(client, "nobody", WRONG).status_code == 429
    assert login(client, "ada", PASSWORD).status_code == 302


def test_after_the_wait_the_right_password_logs_in(client: FlaskClient, make_user, at):
    make_user("ada")
    at(T0)
    for _ in range(5):
        login(client, "ada", WRONG)
    assert login(client, "ada", PASSWORD).status_code == 429
    at(T0 + timedelta(seconds=61))
    assert login(client, "ada", PASSWORD).status_code == 302


def test_each_further_failure_doubles_the_wait_up_to_the_window(client: FlaskClient, make_user, at):
    make_user("ada")
    moment = T0
    at(moment)
    for _ in range(5):
        login(client, "ada", WRONG)
    for minutes in (1, 2, 4, 8, 15, 15):
        at(moment + timedelta(minutes=minutes) - timedelta(seconds=1))
        locked = login(client, "ada", PASSWORD)
        assert locked.status_code == 429
        assert "try again in 1 minute " in locked.get_data(as_text=True)
        moment += timedelta(minutes=minutes)
        at(moment)
        assert login(client, "ada", WRONG).status_code == 401
    at(moment + timedelta(minutes=15))
    assert login(client, "ada", PASSWORD).status_code == 302


def test_failures_from_one_address_slow_but_never_lock_out_a_right_password(
    client: FlaskClient, make_user, at
):
    make_user("ada")
    at(T0)
    for n in range(20):
        assert login(client, f"guess{n}", WRONG).status_code == 401
    assert login(client, "ada", PASSWORD).status_code == 429
    at(T0 + timedelta(minutes=1, seconds=1))
    assert login(client, "ada", PASSWORD).status_code == 302
    post_form(client, "/logout", {}, page="/account")
    for n in range(10):
        at(T0 + timedelta(hours=1, minutes=20 * n))
        assert login(client, f"other{n}", WRONG).status_code == 401
    at(T0 + timedelta(hours=1, minutes=20 * 9, seconds=1))
    assert login(client, "ada", PASSWORD).status_code == 429
    at(T0 + timedelta(hours=1, minutes=20 * 9 + 15))
    assert login(client, "ada", PASSWORD).status_code == 302
