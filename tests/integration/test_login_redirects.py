"""After login only a same-site path in ?next= is followed; anything else goes home."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, csrf_token

ATTACKS = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/\r\nSet-Cookie: x=1",
    "/\\evil.example",
    "\\\\evil.example",
    "//evil.example",
    "https://evil.example",
    "%2F%2Fevil.example",
    "/\u00a0/evil.example",
    "/\u2028/evil.example",
    "/" + "a" * 5000,
]


def _login_with_next(client: FlaskClient, target: str):
    token = csrf_token(client)
    data = {"identifier": "ada", "password": PASSWORD, "csrf_token": token}
    return client.post("/login", query_string={"next": target}, data=data)


@pytest.mark.parametrize("target", ATTACKS)
def test_login_with_a_hostile_next_goes_to_the_home_page(
    client: FlaskClient, make_user, target: str
):
    make_user("ada")
    response = _login_with_next(client, target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_with_a_same_site_next_goes_there(client: FlaskClient, make_user):
    make_user("ada")
    response = _login_with_next(client, "/invoices?page=2")
    assert response.headers["Location"] == "/invoices?page=2"
