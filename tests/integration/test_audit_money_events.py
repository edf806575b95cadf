"""Money changes are recorded once each in the audit log, in the change's transaction: saved
methods, autopay, schedules, plans, payments (the payer's, or the system's for autopay), staff
credits, choices saved and invitations sent; never a card or bank number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal.accounts.models import Role
from portal.app import create_app
from portal.autopay import service as autopay
from portal.autopay.jobs import autopay_run
from portal.autopay.models import Consent
from portal.config import Settings
from portal.payments.fake import FakeGateway
from portal.payments.gateway import SavedProfile
from portal.payments.models import SavedMethod
from tests.audit_rows import actions, events
from tests.conftest import csrf_token, login, post_form
from tests.integration.test_payment_pages import pay_form
from tests.rows import saved_card

CARD = "4111111111111111"


@pytest.fixture
def gateway() -> FakeGateway:
    fake = FakeGateway()
    fake.saved_methods.add(SavedProfile("1", "2"))
    return fake


@pytest.fixture
def app(settings: Settings, gateway: FakeGateway) -> Iterator[Flask]:
    from tests.conftest import _wipe

    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "ARGON2_CHEAP": True, "GATEWAY": gateway}
    )
    app.config["CLOCK"] = lambda: datetime(2026, 3, 1, 12, tzinfo=UTC)
    yield app
    _wipe(app.extensions["portal.db"].engine)
    app.extensions["portal.db"].engine.dispose()


@pytest.fixture
def world(app: Flask, make_customer, make_invoice, make_user) -> dict[str, int]:
    ada = make_customer("Ada", email="ada@example.com")
    bob = make_customer("Bob", email="bob@example.com")
    ada_user = make_user("ada", customer=ada)
    bob_user = make_user("bob", customer=bob)
    boss = make_user("boss", role=Role.ADMIN)
    invoice = make_invoice(ada, "100.00", due=date(2026, 3, 10))
    with app.app_context(), db.transaction() as s:
        card = saved_card(ada.id)
        s.add(card)
        s.flush()
        card_id = card.id
    return {
        "ada": ada.id,
        "bob": bob.id,
        "ada_user": ada_user.id,
        "bob_user": bob_user.id,
        "boss": boss.id,
        "invoice": invoice.id,
        "card": card_id,
    }


def only(app: Flask, action: str):
    found = events(app, action)
    assert len(found) == 1, [e.summary for e in found]
    return found[0]


def no_numbers(app: Flask) -> None:
    for row in events(app):
        stored = " ".join(str(v) for v in vars(row).values())
        assert CARD not in stored and "eyJ0b2tlbiI6IjEifQ" not in stored  # nor the token


def test_a_payment_from_the_pay_page_is_recorded_in_the_payers_name(app: Flask, world):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    login(client, "ada")
    response, _ = pay_form(client, {world["invoice"]: "60.00"})
    assert response.status_code in (302, 303)
    made = only(app, "payment.made")
    assert made.customer_id == world["ada"] and made.actor_user_id == world["ada_user"]
    assert made.address == "203.0.113.7"
    assert "$60.00" in made.summary and "1001" in made.summary
    assert json.loads(made.after or "")["invoices"] == {"1001": "60.00"}
    no_numbers(app)


def test_an_autopay_charge_is_recorded_as_the_systems(app: Flask, world):
    with app.app_context(), db.transaction() as s:
        autopay.enroll(
            s, world["ada"], autopay.Rule(world["card"], 0, None), None, Consent.CUSTOMER
        )
    app.config["CLOCK"] = lambda: datetime(2026, 3, 10, 12, tzinfo=UTC)
    with app.app_context():
        autopay_run(app)
        autopay_run(app)  # a second run the same day charges nothing, records nothing
    made = only(app, "payment.made")
    assert made.actor_user_id is None and made.actor_label == "system"
    assert made.customer_id == world["ada"] and "$100.00" in made.summary


def test_a_method_added_made_default_and_removed_is_recorded_each_time(app: Flask, world):
    client = app.test_client()
    login(client, "bob")  # no saved method yet
    added = client.post(
        "/payment-methods/add-card",
        data={
            "csrf_token": csrf_token(client, "/account"),
            "opaque_descriptor": "COMMON.ACCEPT.INAPP.PAYMENT",
            "opaque_value": "a-one-time-token",
        },
    )
    assert added.status_code == 303
    new = only(app, "method.added")
    assert new.customer_id == world["bob"] and new.actor_user_id == world["bob_user"]
    assert "ending in" in new.summary and new.address == "127.0.0.1"
    with app.app_context():
        method_id = db.session().scalar(
            sa.select(SavedMethod.id).where(SavedMethod.customer_id == world["bob"])
        )
    token = csrf_token(client, "/payment-methods")
    client.post(f"/payment-methods/{method_id}/default", data={"csrf_token": token})
    client.post(f"/payment-methods/{method_id}/remove", data={"csrf_token": token, "confirm": "1"})
    assert actions(app)[-3:] == ["method.added", "method.default", "method.removed"]
    assert only(app, "method.removed").customer_id == world["bob"]
    no_numbers(app)


def test_autopay_on_and_off_a_schedule_made_and_cancelled_and_a_plan(
    app: Flask, world, make_invoice
):
    client = app.test_client()
    login(client, "ada")
    card = str(world["card"])
    post_form(client, "/autopay", {"method_id": card, "days_before": "2", "max_amount": "500"})
    post_form(client, "/autopay", {"action": "off"})
    post_form(client, "/autopay", {"action": "off"})  # already off: nothing changes
    schedule = {"method_id": card, "run_on": "2026-03-05", f"amount-{world['invoice']}": "60.00"}
    assert post_form(client, "/autopay/schedule", schedule, page="/autopay").status_code == 302
    planned = json.loads(only(app, "schedule.made").after or "")["schedule_id"]
    cancel = f"/autopay/schedules/{planned}/cancel"
    assert post_form(client, cancel, {}, page="/autopay").status_code == 302
    from portal.billing.models import Customer

    with app.app_context():
        ada = db.session().get(Customer, world["ada"])
    make_invoice(ada, "300.00", due=date(2026, 1, 15))
    plan = {"method_id": card, "installments": "3"}
    assert post_form(client, "/autopay/plan", plan, page="/autopay").status_code == 302
    assert actions(app)[1:] == [
        "autopay.enrolled",
        "autopay.cancelled",
        "schedule.made",
        "schedule.cancelled",
        "plan.created",
    ]
    for event in events(app)[1:]:
        assert event.customer_id == world["ada"] and event.actor_user_id == world["ada_user"]
    assert "2 days before" in only(app, "autopay.enrolled").summary
    assert "$300.00 in 3 installments" in only(app, "plan.created").summary


def test_staff_turning_autopay_on_for_a_customer_is_in_the_staff_members_name(app: Flask, world):
    client = app.test_client()
    login(client, "boss")
    page = f"/admin/customers/{world['ada']}/autopay"
    form = {"method_id": str(world["card"]), "days_before": "0", "consent_note": "On the phone"}
    assert post_form(client, page, form).status_code == 302
    event = only(app, "autopay.enrolled")
    assert event.customer_id == world["ada"] and event.actor_user_id == world["boss"]
    assert event.actor_label == "boss (admin)"


def test_a_credit_applied_by_staff_is_recorded_with_its_invoice_and_amount(app: Flask, world):
    client = app.test_client()
    login(client, "boss")
    page = f"/admin/customers/{world['ada']}/credit"
    form = {
        "invoice_id": str(world["invoice"]),
        "amount": "12.50",
        "reason": "=HYPERLINK(goodwill)",
        "idempotency_key": "credit-form-key-0001",
        "confirm": "1",
    }
    assert post_form(client, page, form).status_code == 302
    assert post_form(client, page, form).status_code == 302  # a double submit: one credit
    credit = only(app, "credit.applied")
    assert credit.customer_id == world["ada"] and credit.actor_user_id == world["boss"]
    assert json.loads(credit.after or "") == {
        "amount": "12.50",
        "invoice": "1001",
        "reason": "=HYPERLINK(goodwill)",
    }


def test_notification_and_display_choices_saved_keep_what_changed(app: Flask, world):
    staff = app.test_client()
    login(staff, "boss")
    form = {"theme": "dark", "text_size": "normal"}
    assert post_form(staff, "/account/preferences", form).status_code == 302
    assert post_form(staff, "/account/preferences", form).status_code == 302  # no change
    shown = only(app, "preferences.changed")
    assert json.loads(shown.before or "") == {"theme": "auto"}
    assert json.loads(shown.after or "") == {"theme": "dark"}
    assert shown.customer_id is None and shown.actor_user_id == world["boss"]
    client = app.test_client()
    login(client, "ada")
    choices = {"kind-new_invoice": "off", "frequency": "monthly", "paperless": "yes"}
    assert post_form(client, "/notifications/preferences", choices).status_code == 302
    told = only(app, "notifications.changed")
    assert json.loads(told.after or "") == {"kinds.new_invoice": "off"}
    assert told.customer_id == world["ada"]


def test_an_invitation_sent_by_staff_is_recorded_on_the_customers_account(app: Flask, world):
    client = app.test_client()
    login(client, "boss")
    form = {"customer_id": str(world["bob"]), "email": "office@example.com"}
    assert post_form(client, "/admin/invite", form, page="/admin/").status_code == 302
    sent = only(app, "invitation.sent")
    assert sent.customer_id == world["bob"] and sent.actor_user_id == world["boss"]
    assert "office@example.com" in sent.summary and "/invite/" not in sent.summary


def test_a_one_click_unsubscribe_is_recorded_without_its_token(app: Flask, world):
    from portal.notifications import unsubscribe

    with app.app_context():
        token = unsubscribe.token_for(world["ada"], "due_soon")
    assert app.test_client().post(f"/notifications/unsubscribe/{token}").status_code == 200
    off = only(app, "notifications.changed")
    assert off.customer_id == world["ada"] and off.actor_user_id is None
    assert "one-click" in off.summary and token not in off.summary
