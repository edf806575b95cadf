"""Security e-mails (no opting out): new password, new payment method, sign-in from a new device."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from portal.app import create_app
from portal.config import Settings
from portal.formatting import device
from portal.payments.fake import FakeGateway
from tests.conftest import PASSWORD, Mailbox, csrf_token, login, post_form, text_of

NEW = "violet-tram-sings-at-dusk"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
TOKEN = {"opaque_descriptor": "COMMON.ACCEPT.INAPP.PAYMENT", "opaque_value": "eyJ0b2tlbiI6IjEifQ"}


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:  # the conftest app, with a fake processor
    from tests.conftest import _wipe

    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "ARGON2_CHEAP": True, "GATEWAY": FakeGateway()}
    )
    yield app
    _wipe(app.extensions["portal.db"].engine)
    app.extensions["portal.db"].engine.dispose()


def _security(mailbox: Mailbox, subject: str) -> list[str]:
    """Bodies of the e-mails sent so far whose subject mentions `subject`."""
    return [text_of(m) for m in mailbox.messages() if subject in str(m["Subject"])]


def _browser(app: Flask, user_agent: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def test_a_first_login_sends_no_new_device_e_mail(app, make_user, mailbox: Mailbox):
    make_user("ada")
    assert login(_browser(app, FIREFOX), "ada").status_code == 302
    assert _security(mailbox, "New sign-in") == []


def test_a_login_from_a_new_device_is_e_mailed_once_and_the_same_device_again_sends_nothing(
    app, make_user, mailbox: Mailbox
):
    make_user("ada")
    login(_browser(app, "Werkzeug test"), "ada")
    login(_browser(app, FIREFOX), "ada")
    login(_browser(app, FIREFOX), "ada")
    [body] = _security(mailbox, "New sign-in")
    assert mailbox.messages()[-1]["To"] == "ada@example.com"
    assert "Firefox on Windows" in body and "Mozilla/5.0" not in body
    assert "/forgot-password" in body and "contact" in body


def test_a_password_change_is_e_mailed_once(client: FlaskClient, make_user, mailbox: Mailbox):
    make_user("ada")
    login(client, "ada")
    response = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW, "confirm": NEW},
        page="/account",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    [body] = _security(mailbox, "password was changed")
    assert "Your password was changed." in body and "/forgot-password" in body
    assert _security(mailbox, "New sign-in") == []  # the same browser signs in again


def test_a_password_reset_is_e_mailed_once(client: FlaskClient, make_user, mailbox: Mailbox):
    make_user("ada")
    post_form(client, "/forgot-password", {"identifier": "ada"})
    path = urlsplit(mailbox.last_link()).path
    response = post_form(client, path, {"new_password": NEW, "confirm": NEW})
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    assert len(_security(mailbox, "password was changed")) == 1


def test_a_saved_payment_method_is_e_mailed_once_with_only_the_last_four_digits(
    app, make_customer, make_invoice, make_user, mailbox: Mailbox
):
    ada = make_customer("Ada Lovelace", email="ada@example.com")
    invoice = make_invoice(ada, "100.00", due=date(2099, 1, 1))
    make_user("ada", customer=ada)
    client = _browser(app, FIREFOX)
    login(client, "ada")
    page = client.get("/pay").get_data(as_text=True)
    idem = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    data = MultiDict(
        {
            "csrf_token": csrf_token(client, "/pay"),
            "idempotency_key": idem,
            "method": "card",
            "save_method": "1",
            **TOKEN,
        }
    )
    data.add("invoice", str(invoice.id))
    data.add(f"amount-{invoice.id}", "10.00")
    assert client.post("/pay", data=data).status_code == 303
    [body] = _security(mailbox, "payment method was saved")
    assert "ending in 1111" in body and "Firefox on Windows" in body
    assert not re.search(r"\d{5,}", body.replace("1111", ""))  # no longer number than 4 digits


def test_a_device_is_shortened_for_people_to_read():
    assert device(FIREFOX) == "Firefox on Windows"
    assert device("") == "Unknown device"
    assert device("x" * 100).endswith("…") and len(device("x" * 100)) == 60
