"""The admin's sign-in rules: customers' second factor optional or required, and an optional
password age; only admins reach the page, bad input saves nothing, and logins follow the rules."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts import signin_policy
from portal.accounts.models import PortalUser, Role
from portal.db import utcnow
from tests.conftest import csrf_token, login, post_form

PAGE = "/admin/security"


def save(client: FlaskClient, **fields: str):
    data = {"customer_two_factor": "optional", "password_age": "off", "days": ""}
    return post_form(client, PAGE, {**data, **fields})


def rules(app: Flask) -> signin_policy.SignInRules:
    with app.app_context():
        return signin_policy.rules(db.session())


@pytest.fixture
def admin(app: Flask, make_user) -> FlaskClient:
    make_user("boss", role=Role.ADMIN)
    client = app.test_client()
    login(client, "boss")
    return client


def test_the_page_shows_the_defaults_and_says_staff_always_need_a_second_factor(admin):
    page = admin.get(PAGE)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Staff (admins and bookkeepers) must always use a second factor" in text
    assert "NIST SP 800-63B" in text
    assert re.search(r'<input checked[^>]*value="optional"', text)
    assert re.search(r'<input checked[^>]*value="off"', text)
    assert 'href="/admin/security"' in admin.get("/admin/").get_data(as_text=True)


def test_an_admin_saves_required_second_factor_and_a_password_age(app: Flask, admin):
    answer = save(admin, customer_two_factor="required", password_age="days", days=" 90 ")

    assert answer.status_code == 302 and answer.headers["Location"] == PAGE
    assert rules(app) == signin_policy.SignInRules("required", 90)
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Sign-in rules saved." in page
    assert "After 90 days" in page


def test_an_admin_turns_the_password_age_off_again(app: Flask, admin):
    save(admin, password_age="days", days="3650")
    assert rules(app).password_max_age_days == 3650

    save(admin, password_age="off", days="3650")

    assert rules(app) == signin_policy.SignInRules("optional", None)


@pytest.mark.parametrize("role", [Role.BOOKKEEPER, Role.CUSTOMER])
def test_others_than_admins_get_a_404_and_change_nothing(app: Flask, make_user, role: Role):
    make_user("someone", role=role)
    client = app.test_client()
    login(client, "someone")
    assert client.get(PAGE).status_code == 404
    token = csrf_token(client, "/account")
    answer = client.post(PAGE, data={"customer_two_factor": "required", "csrf_token": token})
    assert answer.status_code == 404
    assert rules(app) == signin_policy.SignInRules()
    assert 'href="/admin/security"' not in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    "days",
    # Superscript, Arabic-Indic and full-width digits: int() takes them, the page must not.
    [
        *["", "abc", "²", "٣٠", "\uff13\uff10"],
        *["30.5", "-30", "+30", "3 0", "29", "3651", "0", "9" * 40],
    ],
)
def test_a_password_age_that_is_not_30_to_3650_ascii_days_is_refused(
    app: Flask, admin: FlaskClient, days: str
):
    save(admin, password_age="days", days="45")

    answer = save(admin, customer_two_factor="required", password_age="days", days=days)

    assert answer.status_code == 400
    assert "whole number from 30 to 3650" in answer.get_data(as_text=True)
    assert rules(app) == signin_policy.SignInRules("optional", 45)


@pytest.mark.parametrize(
    "fields",
    [
        {"customer_two_factor": "always"},
        {"customer_two_factor": ""},
        {"password_age": "sometimes"},
    ],
)
def test_an_unknown_choice_is_refused(app: Flask, admin: FlaskClient, fields: dict[str, str]):
    answer = save(admin, **fields)
    assert answer.status_code == 400
    assert 'role="alert"' in answer.get_data(as_text=True)
    assert rules(app) == signin_policy.SignInRules()


def test_a_customer_without_a_second_factor_must_set_one_up_once_it_is_required(
    app: Flask, admin: FlaskClient, make_user
):
    make_user("ada")
    save(admin, customer_two_factor="required")
    customer = app.test_client()

    login(customer, "ada")
    moved = customer.get("/")

    assert moved.status_code == 302
    assert moved.headers["Location"] == "/account/two-factor"
    assert customer.get("/account/two-factor").status_code == 200


def test_a_customer_is_not_asked_while_it_is_optional(app: Flask, admin, make_user):
    make_user("ada")
    customer = app.test_client()
    login(customer, "ada")
    assert customer.get("/").status_code == 200


def test_a_password_older_than_the_age_set_lands_on_the_profile_with_a_prompt(
    app: Flask, admin: FlaskClient, make_user
):
    make_user("ada")
    save(admin, password_age="days", days="30")
    with app.app_context(), db.transaction() as s:
        s.execute(
            sa.update(PortalUser)
            .where(PortalUser.username == "ada")
            .values(password_changed_at=utcnow() - timedelta(days=40))
        )
    customer = app.test_client()

    answer = login(customer, "ada")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/account#password"
    page = customer.get("/account").get_data(as_text=True)
    assert "Your password is older than 30 days" in page


def test_a_password_younger_than_the_age_set_goes_home(app: Flask, admin, make_user):
    make_user("ada")
    save(admin, password_age="days", days="30")
    answer = login(app.test_client(), "ada")
    assert answer.headers["Location"] == "/"
