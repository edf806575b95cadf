"""Bad input gets a clear message or a 400, never a 500, and nothing changes."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import PortalUser, Role
from portal.payments.fake import FakeGateway
from tests.conftest import PASSWORD, csrf_token, login, post_form
from tests.integration.test_payment_pages import TOKEN
from tests.integration.test_route_walk import CUSTOMER_BLUEPRINTS

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


# Ids no row can have: beyond the 32-bit id columns (PostgreSQL refuses the query), a
# superscript two that int() refuses though isdigit() accepts it, Arabic-Indic 12 that int()
# reads as 12, zero. Each must be a 404 (in a path) or a 400 (in a form), never a 500.
BAD_IDS = ["99999999999999999999", str(2**31), "²", "١٢", "0"]
MISSING_ID = str(2**31 - 1)  # a well-formed id that names nothing

STAFF_BLUEPRINTS = (
    *("admin", "admin_payments", "notices", "quickbooks", "branding", "overdue"),
    "customer_changes",
)
ANY_LOGIN_BLUEPRINTS = ("accounts",)  # pages every login has (its own sessions)
# Blueprints with customer pages and staff pages (those under /admin) side by side.
MIXED_BLUEPRINTS = ("notifications", "autopay", "people")
CUSTOMER_ONLY = tuple(b for b in CUSTOMER_BLUEPRINTS if b not in MIXED_BLUEPRINTS)


def _id_routes(
    app: Flask, blueprints: tuple[str, ...], staff: bool | None = None
) -> list[tuple[str, str]]:
    """(rule, method) of every route of these blueprints with an id in its path (only the
    staff ones, or only the others, when `staff` says)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if staff is not None and rule.rule.startswith("/admin") != staff:
            continue
        if rule.endpoint.split(".")[0] in blueprints and "<int:" in rule.rule:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append((rule.rule, method))
    return routes


def _with_id(rule: str, value: str) -> str:
    return re.sub(r"<int:[a-z_]+>", value, rule)


def _walk(client: FlaskClient, routes: list[tuple[str, str]], values: list[str]) -> list[str]:
    """Every route with every value; what answered other than 404."""
    token = csrf_token(client, "/account")
    wrong = []
    for rule, method in routes:
        for value in values:
            path = _with_id(rule, value)
            response = client.open(path, method=method, data={"csrf_token": token})
            if response.status_code != 404:
                wrong.append(f"{method} {path} answered {response.status_code}")
    return wrong


def test_every_id_route_is_walked(app: Flask):
    everything = {r.endpoint.split(".")[0] for r in app.url_map.iter_rules()}
    walked = [
        *_id_routes(app, CUSTOMER_ONLY + ANY_LOGIN_BLUEPRINTS),
        *_id_routes(app, STAFF_BLUEPRINTS),
        *_id_routes(app, MIXED_BLUEPRINTS, staff=False),
        *_id_routes(app, MIXED_BLUEPRINTS, staff=True),
    ]
    assert len(walked) == len(_id_routes(app, tuple(everything)))
    assert len(_id_routes(app, CUSTOMER_BLUEPRINTS)) >= 5


def test_customer_routes_answer_404_for_ids_no_row_can_have(
    app: Flask, client: FlaskClient, make_user
):
    make_user("ada")
    login(client, "ada")
    routes = _id_routes(app, CUSTOMER_ONLY + ANY_LOGIN_BLUEPRINTS)
    routes += _id_routes(app, MIXED_BLUEPRINTS, staff=False)
    assert _walk(client, routes, [*BAD_IDS, MISSING_ID]) == []


def test_staff_routes_answer_404_for_ids_no_row_can_have(
    app: Flask, client: FlaskClient, make_user
):
    make_user("boss", role=Role.ADMIN)
    login(client, "boss")
    routes = _id_routes(app, STAFF_BLUEPRINTS) + _id_routes(app, MIXED_BLUEPRINTS, staff=True)
    assert _walk(client, routes, [*BAD_IDS, MISSING_ID]) == []


def test_an_id_route_still_finds_its_row(app: Flask, client: FlaskClient, make_user):
    make_user("boss", role=Role.ADMIN)
    customer_id = make_user("ada").customer_id
    login(client, "boss")
    assert client.get(f"/admin/customers/{customer_id}/credit").status_code == 200
    assert client.get(f"/admin/customers/{customer_id:010d}/credit").status_code == 200


@pytest.mark.parametrize("value", BAD_IDS)
def test_pay_page_ignores_invoice_ids_no_row_can_have(client: FlaskClient, make_user, value: str):
    make_user("ada")
    login(client, "ada")
    assert client.get("/pay", query_string={"invoice": value}).status_code == 200


@pytest.mark.parametrize("value", BAD_IDS)
def test_staff_notice_for_a_customer_no_row_can_be_is_a_404(
    client: FlaskClient, make_user, value: str
):
    make_user("boss", role=Role.ADMIN)
    login(client, "boss")
    assert client.get("/admin/notices", query_string={"customer": value}).status_code == 404


@pytest.mark.parametrize("value", BAD_IDS)
def test_staff_forms_with_ids_no_row_can_have_are_refused(
    app: Flask, client: FlaskClient, make_user, value: str
):
    make_user("boss", role=Role.ADMIN)
    customer_id = make_user("ada").customer_id
    login(client, "boss")
    credit = f"/admin/customers/{customer_id}/credit"
    form = {"invoice_id": value, "idempotency_key": "k" * 24, "amount": "5.00", "reason": "x"}
    assert post_form(client, credit, form, page="/admin/").status_code == 400
    invite = {"customer_id": value, "email": "new@example.com"}
    response = post_form(client, "/admin/invite", invite, page="/admin/")
    assert response.status_code == 302
    assert "No such customer." in client.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize("value", BAD_IDS)
def test_paying_invoice_or_saved_method_ids_no_row_can_have_is_refused(
    app: Flask, client: FlaskClient, make_user, value: str
):
    app.extensions["portal.gateway"] = gateway = FakeGateway()
    make_user("ada")
    login(client, "ada")
    for form in (
        {"invoice": value, f"amount-{value}": "5.00", "method": "card"},
        {"invoice": value, "method": f"saved-{value}"},
    ):
        form |= {"idempotency_key": "k" * 24, **TOKEN}
        assert post_form(client, "/pay", form, page="/account").status_code == 400
    assert gateway.calls == 0
