"""Autopay pages: a customer turns autopay on and off, schedules and cancels a payment, skips
an invoice; staff set it with consent recorded; nobody sees or changes another's (404)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal.accounts.models import Role
from portal.autopay.models import (
    AutopayEnrollment,
    AutopaySkip,
    Consent,
    ScheduledPayment,
    ScheduleState,
)
from tests.conftest import login, post_form
from tests.rows import saved_card

HUGE = 2**63


@pytest.fixture
def world(app: Flask, make_customer, make_invoice, make_user) -> dict[str, int]:
    app.config["CLOCK"] = lambda: datetime(2026, 3, 1, 12, tzinfo=UTC)
    ada = make_customer("Ada", email="ada@example.com")
    bob = make_customer("Bob", email="bob@example.com")
    make_user("ada", customer=ada)
    make_user("bob", customer=bob)
    make_user("boss", email="boss@example.com", role=Role.ADMIN)
    ada_invoice = make_invoice(ada, "100.00", due=date(2026, 3, 10))
    bob_invoice = make_invoice(bob, "70.00", due=date(2026, 3, 10))
    with app.app_context(), db.transaction() as s:
        ada_card = saved_card(ada.id)
        bob_card = saved_card(bob.id, gateway_payment_profile_id="3")
        s.add_all([ada_card, bob_card])
        s.flush()
        ids = {"ada_card": ada_card.id, "bob_card": bob_card.id}
    return {
        **ids,
        "ada": ada.id,
        "bob": bob.id,
        "ada_invoice": ada_invoice.id,
        "bob_invoice": bob_invoice.id,
    }


def enrollment(app: Flask, customer_id: int) -> AutopayEnrollment | None:
    with app.app_context():
        return db.session().scalar(
            sa.select(AutopayEnrollment).where(AutopayEnrollment.customer_id == customer_id)
        )


def test_a_customer_turns_autopay_on_with_a_saved_card_and_off_again(app, client, world):
    login(client, "ada")
    assert "Autopay is <strong>off</strong>" in client.get("/autopay").get_data(as_text=True)
    answer = post_form(
        client,
        "/autopay",
        {"method_id": str(world["ada_card"]), "days_before": "2", "max_amount": "500"},
    )
    assert answer.status_code == 302
    on = enrollment(app, world["ada"])
    assert on.active and on.days_before == 2 and on.max_amount == Decimal("500.00")
    assert on.consent_via is Consent.CUSTOMER and on.consent_by is not None
    post_form(client, "/autopay", {"action": "off"})
    assert not enrollment(app, world["ada"]).active


def test_another_customers_method_is_refused(app, client, world):
    login(client, "ada")
    answer = post_form(client, "/autopay", {"method_id": str(world["bob_card"])})
    assert answer.status_code == 400
    assert enrollment(app, world["ada"]) is None


def test_a_customer_schedules_a_payment_and_cancels_it(app, client, world):
    login(client, "ada")
    answer = post_form(
        client,
        "/autopay/schedule",
        {
            "method_id": str(world["ada_card"]),
            "run_on": "2026-03-05",
            f"amount-{world['ada_invoice']}": "60.00",
        },
        page="/autopay",
    )
    assert answer.status_code == 302
    with app.app_context():
        planned = db.session().scalar(sa.select(ScheduledPayment))
        planned_id = planned.id
    assert "2026-03-05" in client.get("/autopay").get_data(as_text=True)
    post_form(client, f"/autopay/schedules/{planned_id}/cancel", {}, page="/autopay")
    with app.app_context():
        assert db.session().get(ScheduledPayment, planned_id).state is ScheduleState.CANCELLED


def test_a_past_date_or_bobs_invoice_cannot_be_scheduled(app, client, world):
    login(client, "ada")
    for run_on, invoice in (("2026-03-01", "ada_invoice"), ("2026-03-05", "bob_invoice")):
        answer = post_form(
            client,
            "/autopay/schedule",
            {
                "method_id": str(world["ada_card"]),
                "run_on": run_on,
                f"amount-{world[invoice]}": "10",
            },
            page="/autopay",
        )
        assert answer.status_code == 400
    with app.app_context():
        assert db.session().scalar(sa.select(ScheduledPayment)) is None


def test_the_skip_link_marks_the_invoice_and_bobs_invoice_is_a_404(app, client, world):
    login(client, "ada")
    post_form(client, "/autopay", {"method_id": str(world["ada_card"])})
    path = f"/autopay/skip/{world['ada_invoice']}"
    assert client.get(path).status_code == 200
    post_form(client, path, {})
    with app.app_context():
        assert db.session().scalar(sa.select(AutopaySkip.invoice_id)) == world["ada_invoice"]
    assert client.get(f"/autopay/skip/{world['bob_invoice']}").status_code == 404
    assert client.get(f"/autopay/skip/{HUGE}").status_code == 404


def test_a_customer_cannot_cancel_anothers_schedule_or_reach_staff_pages(app, client, world):
    with app.app_context(), db.transaction() as s:
        planned = ScheduledPayment(
            customer_id=world["bob"], saved_method_id=world["bob_card"], run_on=date(2026, 3, 5)
        )
        s.add(planned)
        s.flush()
        planned_id = planned.id
    login(client, "ada")
    token_page = "/autopay"
    assert (
        post_form(
            client, f"/autopay/schedules/{planned_id}/cancel", {}, page=token_page
        ).status_code
        == 404
    )
    assert (
        post_form(client, f"/autopay/schedules/{HUGE}/cancel", {}, page=token_page).status_code
        == 404
    )
    with app.app_context():
        assert db.session().get(ScheduledPayment, planned_id).state is ScheduleState.SCHEDULED
    assert client.get(f"/admin/customers/{world['bob']}/autopay").status_code in (403, 404)


def test_staff_set_autopay_only_with_a_consent_note(app, client, world):
    login(client, "boss")
    page = f"/admin/customers/{world['ada']}/autopay"
    assert client.get(page).status_code == 200
    refused = post_form(client, page, {"method_id": str(world["ada_card"])})
    assert refused.status_code == 400 and enrollment(app, world["ada"]) is None
    post_form(
        client,
        page,
        {"method_id": str(world["ada_card"]), "consent_note": "Ada agreed by phone, 1 March"},
    )
    on = enrollment(app, world["ada"])
    assert on.consent_via is Consent.STAFF and "by phone" in on.consent_note
    assert client.get(f"/admin/customers/{HUGE}/autopay").status_code == 404


def test_a_customer_splits_an_overdue_balance_and_staff_can_for_them(
    app, client, world, make_invoice
):
    from portal.autopay.models import PaymentPlan
    from portal.billing.models import Customer

    with app.app_context():
        ada = db.session().get(Customer, world["ada"])
        bob = db.session().get(Customer, world["bob"])
    make_invoice(ada, "300.00", due=date(2026, 1, 15))
    make_invoice(bob, "200.00", due=date(2026, 1, 15))
    login(client, "ada")
    assert "Set up the plan" in client.get("/autopay").get_data(as_text=True)
    too_many = {"method_id": str(world["ada_card"]), "installments": "13"}
    assert post_form(client, "/autopay/plan", too_many, page="/autopay").status_code == 400
    ok = {"method_id": str(world["ada_card"]), "installments": "3"}
    assert post_form(client, "/autopay/plan", ok, page="/autopay").status_code == 302
    with app.app_context():
        plan = db.session().scalar(sa.select(PaymentPlan))
        assert plan.customer_id == world["ada"] and plan.total == Decimal("300.00")
        assert [i.amount for i in plan.installments] == [Decimal("100.00")] * 3
    client.get("/logout")
    login(client, "boss")
    page = f"/admin/customers/{world['bob']}/autopay"
    answer = post_form(
        client,
        f"/admin/customers/{world['bob']}/plan",
        {"method_id": str(world["bob_card"]), "installments": "2"},
        page=page,
    )
    assert answer.status_code == 302
    with app.app_context():
        plans = {p.customer_id: p.total for p in db.session().scalars(sa.select(PaymentPlan))}
    assert plans == {world["ada"]: Decimal("300.00"), world["bob"]: Decimal("200.00")}
