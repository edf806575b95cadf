"""The payment methods page: add a card or bank account without paying (a token, checked by
the processor), brand, last 4 and expiry shown with "Expires soon" / "Expired", default and
remove; another customer's methods are never reachable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import LoginSession
from portal.app import create_app
from portal.config import Settings, load_settings
from portal.db import utcnow
from portal.payments import methods as saved_methods
from portal.payments.authorizenet import AuthorizeNetGateway
from portal.payments.fake import FakeGateway
from portal.payments.models import MethodKind, SavedMethod
from sandbox.authorizenet import AnetSandbox
from tests.conftest import Mailbox, csrf_token, login, text_of, write_config
from tests.integration.anet_fixtures import *  # noqa: F403  (fixtures)
from tests.rows import saved_card

ACCEPT = "COMMON.ACCEPT.INAPP.PAYMENT"


def _app(settings: Settings, gateway) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    from tests.conftest import _wipe

    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "ARGON2_CHEAP": True, "GATEWAY": gateway}
    )
    yield app
    _wipe(app.extensions["portal.db"].engine)
    app.extensions["portal.db"].engine.dispose()


@pytest.fixture
def app(settings: Settings, gateway: AuthorizeNetGateway) -> Iterator[Flask]:
    yield from _app(settings, gateway)


@pytest.fixture
def people(make_customer, make_user):
    ada = make_customer("Ada Lovelace", email="ada@example.com")
    bob = make_customer("Bob Builder", email="bob@example.com")
    make_user("ada", customer=ada)
    make_user("bob", customer=bob)
    return ada, bob


def add(client: FlaskClient, token: tuple[str, str], kind: str = "card"):
    path = "/payment-methods/add-card" if kind == "card" else "/payment-methods/add-bank-account"
    data = {
        "csrf_token": csrf_token(client, "/account"),
        "opaque_descriptor": token[0],
        "opaque_value": token[1],
    }
    return client.post(path, data=data)


def listed(app: Flask) -> list[SavedMethod]:
    with app.app_context():
        return list(db.session().scalars(sa.select(SavedMethod).order_by(SavedMethod.id)))


def test_a_card_and_a_bank_account_are_added_without_paying(
    app: Flask, client: FlaskClient, people, anet: AnetSandbox, mailbox: Mailbox
) -> None:
    login(client, "ada")
    page = client.get("/payment-methods").get_data(as_text=True)
    assert "Add a card" in page and "Add a bank account" in page
    form = client.get("/payment-methods/add-card")
    assert form.status_code == 200
    assert "script-src 'self' https://js.authorize.net;" in form.headers["Content-Security-Policy"]
    assert 'name="opaque_value"' in form.get_data(as_text=True)
    card = add(client, anet.state.tokenize_card("5424000000000015", 4, 2031))
    assert card.status_code == 303
    bank = add(client, anet.state.tokenize_bank("987654321"), kind="bank")
    assert bank.status_code == 303
    kept = listed(app)
    assert [(m.kind, m.brand, m.last4, m.expiry, m.is_default) for m in kept] == [
        (MethodKind.CARD, "MasterCard", "0015", "04/2031", True),
        (MethodKind.BANK, "Bank account", "4321", None, False),
    ]
    assert len(anet.state.profiles) == 1
    assert len({m.gateway_customer_profile_id for m in kept}) == 1
    page = client.get("/payment-methods").get_data(as_text=True)
    assert "MasterCard ending in 0015" in page and "04/2031" in page
    alerts = [text_of(m) for m in mailbox.messages() if "payment method was saved" in m["Subject"]]
    assert len(alerts) == 2 and "MasterCard ending in 0015" in alerts[0]
    assert "5424000000000015" not in "".join(alerts)
    assert anet.state.transactions == {}  # nothing was charged


def test_a_card_declined_by_the_processors_check_is_not_kept(
    app: Flask, client: FlaskClient, people, anet: AnetSandbox
) -> None:
    login(client, "ada")
    declined = add(client, anet.state.tokenize_card("4111111111111111", 12, 2030, zip="46282"))
    assert declined.status_code == 400
    text = declined.get_data(as_text=True)
    assert "It was not saved: The card or account was declined when we checked it." in text
    assert listed(app) == []
    used = add(client, ("COMMON.ACCEPT.INAPP.PAYMENT", "eyJ-not-a-token"))
    assert used.status_code == 400 and "expired before they were sent" in used.get_data(
        as_text=True
    )
    nothing = add(client, ("something else", "x"))
    assert nothing.status_code == 400 and "did not reach the processor" in nothing.get_data(
        as_text=True
    )


def test_the_same_card_added_twice_or_after_paying_with_it_is_one_method(
    app: Flask, client: FlaskClient, people, anet: AnetSandbox
) -> None:
    login(client, "ada")
    for _ in range(2):
        assert (
            add(client, anet.state.tokenize_card("4111111111111111", 12, 2030)).status_code == 303
        )
    assert len(listed(app)) == 1


def test_adding_a_method_asks_for_the_password_again_when_the_last_proof_is_old(
    app: Flask, client: FlaskClient, people, anet: AnetSandbox
) -> None:
    login(client, "ada")
    with app.app_context():
        db.session().execute(
            sa.update(LoginSession).values(verified_at=utcnow() - timedelta(hours=1))
        )
        db.session().commit()
    page = client.get("/payment-methods/add-card")
    assert page.status_code == 302 and "/confirm" in page.headers["Location"]
    posted = add(client, anet.state.tokenize_card("4111111111111111", 12, 2030))
    assert posted.status_code == 302 and "/confirm" in posted.headers["Location"]
    assert listed(app) == [] and anet.state.profiles == {}


def test_expiry_is_shown_with_expires_soon_and_expired(app: Flask, client: FlaskClient, people):
    ada, _ = people
    app.config["CLOCK"] = lambda: datetime(2026, 3, 15, 15, tzinfo=UTC)
    with app.app_context():
        s = db.session()
        s.add_all(
            [
                saved_card(ada.id, gateway_payment_profile_id="11", last4="0001", expiry="04/2026"),
                saved_card(ada.id, gateway_payment_profile_id="12", last4="0002", expiry="12/2026"),
                saved_card(ada.id, gateway_payment_profile_id="13", last4="0003", expiry="02/2026"),
            ]
        )
        s.commit()
    login(client, "ada")
    page = client.get("/payment-methods").get_data(as_text=True)
    rows = {line for line in page.splitlines() if "ending in 000" in line and "<td" in line}
    assert len(rows) == 3
    row = {n: next(r for r in page.split("<tr>") if f"ending in 000{n}" in r) for n in (1, 2, 3)}
    assert "Expires soon" in row[1] and "Expired" not in row[1]
    assert "Expires soon" not in row[2] and "Expired" not in row[2]
    assert "Expired" in row[3]


def test_expiry_states():
    today = date(2026, 3, 15)
    assert saved_methods.expiry_state("03/2026", today) == "soon"
    assert saved_methods.expiry_state("02/2026", today) == "expired"
    assert saved_methods.expiry_state("04/2026", today) == "soon"  # good through 30 April
    assert saved_methods.expiry_state("05/2026", today) is None  # 77 days left
    assert saved_methods.expiry_state(None, today) is None
    assert saved_methods.expiry_state("13/2026", today) is None
    assert saved_methods.last_day("02/2028") == date(2028, 2, 29)


@pytest.fixture
def fake_app(settings: Settings) -> Iterator[Flask]:
    yield from _app(settings, FakeGateway())


def test_customer_a_can_never_see_make_default_or_remove_bs_methods(fake_app: Flask, people):
    ada, bob = people
    with fake_app.app_context():
        s = db.session()
        s.add(saved_card(bob.id, gateway_payment_profile_id="21", last4="4242"))
        s.add(saved_card(ada.id, gateway_payment_profile_id="22", last4="1111"))
        s.commit()
        bobs = s.scalar(sa.select(SavedMethod.id).where(SavedMethod.customer_id == bob.id))
    client = fake_app.test_client()
    login(client, "ada")
    assert "4242" not in client.get("/payment-methods").get_data(as_text=True)
    token = csrf_token(client, "/payment-methods")
    ids = [str(bobs), "99999999999999999999999", "9" * 400, "\u0661\u0662", "\uff11"]
    for raw in ids:
        for action in ("default", "remove"):
            answer = client.post(
                f"/payment-methods/{raw}/{action}", data={"csrf_token": token, "confirm": "1"}
            )
            assert answer.status_code == 404, (raw, action)
    with fake_app.app_context():
        bob_left = db.session().scalar(sa.select(SavedMethod).where(SavedMethod.id == bobs))
        assert bob_left is not None and bob_left.is_default is False


def test_a_method_autopay_depends_on_is_not_removed(
    fake_app: Flask, people, monkeypatch: pytest.MonkeyPatch
):
    ada, _ = people
    with fake_app.app_context():
        s = db.session()
        s.add(saved_card(ada.id, gateway_payment_profile_id="31", is_default=True))
        s.commit()
        method_id = s.scalar(sa.select(SavedMethod.id))
    monkeypatch.setattr(
        saved_methods, "in_use", lambda s, mid: "Autopay charges it." if mid == method_id else None
    )
    client = fake_app.test_client()
    login(client, "ada")
    token = csrf_token(client, "/payment-methods")
    refused = client.post(
        f"/payment-methods/{method_id}/remove", data={"csrf_token": token, "confirm": "1"}
    )
    assert refused.status_code == 302
    page = client.get("/payment-methods").get_data(as_text=True)
    assert "Visa ending in 1111 cannot be removed: Autopay charges it." in page
    assert len(listed(fake_app)) == 1
    monkeypatch.setattr(saved_methods, "in_use", lambda s, mid: None)
    asked = client.post(f"/payment-methods/{method_id}/remove", data={"csrf_token": token})
    assert asked.status_code == 200 and "Remove Visa ending in 1111?" in asked.get_data(
        as_text=True
    )
    client.post(f"/payment-methods/{method_id}/remove", data={"csrf_token": token, "confirm": "1"})
    assert listed(fake_app) == []


def test_a_method_is_in_use_while_autopay_charges_it_and_free_once_autopay_is_off(
    fake_app: Flask, people
):
    from portal.autopay.models import Consent
    from portal.autopay.service import Rule, enroll, turn_off

    ada, _ = people
    with fake_app.app_context():
        s = db.session()
        s.add(saved_card(ada.id, gateway_payment_profile_id="41", is_default=True))
        s.commit()
        method_id = s.scalar(sa.select(SavedMethod.id))
        assert method_id is not None
        assert saved_methods.in_use(s, method_id) is None
        enroll(s, ada.id, Rule(method_id=method_id), by_user=None, via=Consent.CUSTOMER)
        s.commit()
        assert saved_methods.in_use(s, method_id) == (
            "Autopay charges this method. Choose another method for autopay first."
        )
        turn_off(s, ada.id)
        s.commit()
        assert saved_methods.in_use(s, method_id) is None


class RecordingGateway(FakeGateway):
    def __init__(self) -> None:
        super().__init__()
        self.validations: list[str] = []

    def add_method(self, owner, token, validation):  # type: ignore[no-untyped-def]
        self.validations.append(validation.value)
        return super().add_method(owner, token, validation)


def test_live_mode_validation_is_configurable(tmp_path, database_url, make_customer, make_user):
    settings = load_settings(
        write_config(tmp_path, database_url, authorizenet={"validation_mode": "liveMode"})
    )
    recording = RecordingGateway()
    apps = _app(settings, recording)
    app = next(apps)
    try:
        ada = make_customer("Ada Lovelace", email="ada@example.com")
        make_user("ada", customer=ada)
        client = app.test_client()
        login(client, "ada")
        assert add(client, (ACCEPT, "fake-token-1")).status_code == 303
        assert recording.validations == ["liveMode"]
    finally:
        next(apps, None)
