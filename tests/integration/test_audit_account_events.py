"""Every change to a login is recorded once in the audit log: who, what, on which account,
from where, and before and after for details; never a password, code or token."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pyotp
from flask import Flask
from flask.testing import FlaskClient

from portal.accounts.models import Role
from tests.audit_rows import actions, events
from tests.conftest import PASSWORD, Mailbox, app_code, login, post_form

WRONG = "not-the-right-password-42"


def only(app: Flask, action: str):
    found = events(app, action)
    assert len(found) == 1, [e.summary for e in found]
    return found[0]


def test_a_login_and_a_logout_are_each_recorded_once_on_the_customers_account(
    app: Flask, client: FlaskClient, make_user
):
    ada = make_user("ada")
    login(client, "ada")
    post_form(client, "/logout", {}, page="/account")
    assert actions(app) == ["login", "logout"]
    signed_in, signed_out = events(app)
    for event in (signed_in, signed_out):
        assert event.customer_id == ada.customer_id
        assert event.actor_user_id == ada.id
        assert event.actor_label == "ada (customer)"
        assert event.address == "127.0.0.1"


def test_a_staff_login_is_on_no_account(app: Flask, client: FlaskClient, make_user):
    boss = make_user("boss", role=Role.ADMIN)
    login(client, "boss")  # password, then the app's code
    event = only(app, "login")
    assert event.customer_id is None and event.actor_user_id == boss.id


def test_a_failed_login_is_recorded_on_the_named_account_without_the_password(
    app: Flask, client: FlaskClient, make_user
):
    ada = make_user("ada")
    assert login(client, "ADA@example.com", WRONG).status_code == 401
    event = only(app, "login.failed")
    assert event.customer_id == ada.customer_id
    assert event.actor_user_id is None  # whoever typed it is not known to be ada
    assert "ada" in event.summary and "wrong password" in event.summary
    for row in events(app):
        stored = " ".join(str(v) for v in vars(row).values())
        assert WRONG not in stored and PASSWORD not in stored


def test_a_failed_login_for_no_such_login_keeps_nothing_that_was_typed(
    app: Flask, client: FlaskClient
):
    typed = "my-password-typed-as-a-name"
    assert login(client, typed, WRONG).status_code == 401
    event = only(app, "login.failed")
    assert event.customer_id is None and typed not in event.summary


def test_a_wrong_second_step_code_is_a_failed_login_and_the_right_one_a_login(
    app: Flask, client: FlaskClient, make_user
):
    ada = make_user("ada", two_factor=True)
    post_form(client, "/login", {"identifier": "ada", "password": PASSWORD})
    wrong = post_form(client, "/login/verify", {"method": "app", "code": "000000"})
    assert wrong.status_code == 401
    code = app_code(app, "ada")
    assert post_form(client, "/login/verify", {"method": "app", "code": code}).status_code == 302
    assert actions(app) == ["login.failed", "login"]
    failed = only(app, "login.failed")
    assert failed.customer_id == ada.customer_id and "authenticator" in failed.summary
    assert "000000" not in failed.summary


def test_a_username_change_keeps_before_and_after(app: Flask, client: FlaskClient, make_user):
    ada = make_user("ada")
    login(client, "ada")
    assert post_form(client, "/account/username", {"username": "ada2"}, "/account").status_code
    event = only(app, "username.changed")
    assert json.loads(event.before or "") == {"username": "ada"}
    assert json.loads(event.after or "") == {"username": "ada2"}
    assert event.customer_id == ada.customer_id and event.actor_user_id == ada.id


def test_a_password_change_and_a_reset_are_recorded_without_the_passwords(
    app: Flask, client: FlaskClient, make_user, mailbox: Mailbox
):
    make_user("ada")
    login(client, "ada")
    new = "another-horse-battery-staple-7"
    form = {"current_password": PASSWORD, "new_password": new, "confirm": new}
    assert post_form(client, "/account/password", form, "/account").status_code == 302
    post_form(client, "/logout", {}, page="/account")
    post_form(client, "/forgot-password", {"identifier": "ada"})
    reset = urlsplit(mailbox.last_link()).path
    newer = "third-horse-battery-staple-8"
    done = post_form(client, reset, {"new_password": newer, "confirm": newer})
    assert done.status_code == 302
    changed, was_reset = only(app, "password.changed"), only(app, "password.reset")
    assert was_reset.actor_label == "ada (customer)"
    token = reset.rsplit("/", 1)[1]
    for row in (changed, was_reset):
        stored = " ".join(str(v) for v in vars(row).values())
        assert new not in stored and newer not in stored and token not in stored


def test_an_e_mail_change_is_recorded_when_confirmed(
    app: Flask, client: FlaskClient, make_user, mailbox: Mailbox
):
    ada = make_user("ada")
    login(client, "ada")
    post_form(client, "/account/email", {"email": "new@example.com"})
    assert events(app, "email.changed") == []  # asked, not changed yet
    client.get(urlsplit(mailbox.last_link()).path)
    event = only(app, "email.changed")
    assert json.loads(event.before or "") == {"email": "ada@example.com"}
    assert json.loads(event.after or "") == {"email": "new@example.com"}
    assert event.actor_user_id == ada.id


def test_an_authenticator_app_added_and_removed_and_new_recovery_codes(
    app: Flask, client: FlaskClient, make_user
):
    make_user("ada")
    login(client, "ada")
    page = client.get("/account/two-factor/app").get_data(as_text=True)
    secret = page.split('data-testid="totp-secret">', 1)[1].split("<", 1)[0].replace(" ", "")
    code = pyotp.TOTP(secret).now()
    post_form(client, "/account/two-factor/app", {"code": code}, "/account/two-factor/app")
    post_form(client, "/account/two-factor/recovery-codes", {}, "/account/two-factor")
    post_form(client, "/account/two-factor/app/remove", {}, "/account/two-factor")
    assert actions(app)[1:] == ["two_factor.added", "recovery_codes.renewed", "two_factor.removed"]
    for row in events(app):
        assert secret not in (row.summary or "") and code not in (row.summary or "")


def test_signing_out_other_sessions_and_forgetting_devices_are_recorded(
    app: Flask, client: FlaskClient, make_user
):
    ada = make_user("ada")
    login(app.test_client(), "ada")  # another browser
    login(client, "ada")
    post_form(client, "/account/security/sign-out-others", {}, "/account/security")
    post_form(client, "/account/two-factor/forget-devices", {}, "/account")  # none to forget
    ended = only(app, "sessions.signed_out")
    assert ended.customer_id == ada.customer_id and "1 other session" in ended.summary
    assert events(app, "devices.forgotten") == []


def test_support_removing_second_factors_is_recorded_as_the_command_line(
    app: Flask, make_user, tmp_path
):
    from click.testing import CliRunner

    from portal.cli import main

    ada = make_user("ada", two_factor=True)
    runner = CliRunner(env={"PORTAL_CONFIG": str(tmp_path / "config.toml")})
    result = runner.invoke(main, ["users", "reset-two-factor", "ada"])
    assert result.exit_code == 0, result.output
    removed = only(app, "two_factor.removed")
    assert removed.actor_label == "command line" and removed.customer_id == ada.customer_id


def test_forgetting_remembered_devices_is_recorded(app: Flask, client: FlaskClient, make_user):
    ada = make_user("ada", two_factor=True)
    post_form(client, "/login", {"identifier": "ada", "password": PASSWORD})
    code = app_code(app, "ada")
    post_form(client, "/login/verify", {"method": "app", "code": code, "remember": "y"})
    post_form(client, "/account/two-factor/forget-devices", {}, "/account")
    forgot = only(app, "devices.forgotten")
    assert forgot.customer_id == ada.customer_id and "1 remembered device" in forgot.summary
