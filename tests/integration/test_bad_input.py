"""Bad input gets a clear message or a 400, never a 500, and nothing changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import PortalUser
from tests.conftest import PASSWORD, csrf_token, login, post_form

BIG = "x" * 10_000


def _usernames(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session().scalars(sa.select(PortalUser.username).order_by(PortalUser.id)))


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/login", {"identifier": "", "password": ""}),
        ("/forgot-password", {"identifier": ""}),
    ],
)
def test_empty_fields_are_refused_with_a_message(client: FlaskClient, path: str, data: dict):
    response = post_form(client, path, data)
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/login", {"identifier": BIG, "password": PASSWORD}),
        ("/login", {"identifier": "ada", "password": BIG}),
        ("/forgot-password", {"identifier": BIG}),
    ],
)
def test_oversized_fields_are_refused_with_a_message(
    client: FlaskClient, make_user, path: str, data: dict
):
    make_user("ada")
    response = post_form(client, path, data)
    assert response.status_code == 400
    assert "Must be at most" in response.get_data(as_text=True)


def test_oversized_username_change_changes_nothing(app: Flask, client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    response = post_form(client, "/account/username", {"username": BIG}, page="/account")
    assert response.status_code == 400
    assert "Must be at most 40 characters." in response.get_data(as_text=True)
    assert _usernames(app) == ["ada"]


def test_request_body_over_the_limit_is_refused_with_413(client: FlaskClient):
    token = csrf_token(client)
    response = client.post("/login", data={"identifier": "x" * 300_000, "csrf_token": token})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_non_utf8_multipart_values_are_refused_with_a_message(client: FlaskClient, make_user):
    make_user("ada")
    token = csrf_token(client)
    boundary = "XyZ"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="identifier"\r\n\r\n'
        ).encode()
        + b"ad\xff\xfea\r\n"
        + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n{PASSWORD}\r\n'
            f"--{boundary}--\r\n"
        ).encode()
    )
    response = client.post(
        "/login", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400
    assert "not valid text (UTF-8)" in response.get_data(as_text=True)


def test_non_utf8_urlencoded_body_is_a_400_not_a_500(client: FlaskClient):
    csrf_token(client)
    response = client.post(
        "/login",
        data=b"identifier=ad%FF%FEa&password=caf\xe9",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400


def test_sql_in_the_login_form_is_just_a_failed_login(client: FlaskClient, make_user):
    make_user("ada")
    response = login(client, "ada' OR '1'='1' --", "' OR 1=1 --")
    assert response.status_code == 401
    assert client.get("/").status_code == 302


def test_html_in_fields_is_escaped_and_refused_as_a_username(
    app: Flask, client: FlaskClient, make_user
):
    make_user("ada")
    login(client, "ada")
    evil = "<script>alert(1)</script>"
    response = post_form(client, "/account/username", {"username": evil}, page="/account")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert evil not in page
    assert "3 to 40 letters" in page
    assert _usernames(app) == ["ada"]


def test_control_characters_are_refused(client: FlaskClient):
    response = post_form(client, "/forgot-password", {"identifier": "ada\x00\x07"})
    assert response.status_code == 400
    assert "control characters" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/login", {"identifier": "ada", "password": PASSWORD}),
        ("/account/username", {"username": "hacked"}),
        (
            "/account/password",
            {
                "current_password": PASSWORD,
                "new_password": "violet-tram-sings-at-dusk",
                "confirm": "violet-tram-sings-at-dusk",
            },
        ),
        ("/forgot-password", {"identifier": "ada"}),
        ("/logout", {}),
    ],
)
@pytest.mark.parametrize("token", [None, "forged-token-value"])
def test_forms_without_a_valid_csrf_token_are_refused_and_change_nothing(
    app: Flask, make_user, path: str, data: dict, token: str | None
):
    make_user("ada")
    client = app.test_client()
    login(client, "ada")
    before = _usernames(app)
    payload = dict(data)
    if token:
        payload["csrf_token"] = token
    response = client.post(path, data=payload)
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert _usernames(app) == before
    assert client.get("/").status_code == 200  # still logged in: logout was refused too
    fresh = app.test_client()
    assert login(fresh, "ada", PASSWORD).status_code == 302  # password unchanged


def test_unknown_pages_and_wrong_methods_get_clear_pages(client: FlaskClient):
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "We could not find that page." in missing.get_data(as_text=True)
    assert client.put("/login").status_code == 405


def test_admin_page_with_a_huge_page_number_is_not_a_500(client: FlaskClient, make_user):
    from portal.accounts.models import Role

    make_user("boss", role=Role.ADMIN)
    login(client, "boss")
    assert client.get("/admin/?page=99999999999999999999").status_code == 200
    assert client.get("/admin/?page=-5").status_code == 200
    assert client.get("/admin/?page=abc").status_code == 200
