"""Customer A can never see or act on customer B's data, whatever id is put in a URL:
every customer route with an id in its path is walked with B's ids and must answer 404."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask

from portal import db
from portal.accounts.models import AccountToken, TokenPurpose
from portal.billing.models import CatalogItem
from portal.db import utcnow
from portal.payments.models import (
    PaymentState,
)
from tests.conftest import csrf_token, login
from tests.rows import payment_on, saved_card

# Blueprints whose pages belong to one customer.
CUSTOMER_BLUEPRINTS = ("billing", "invoices", "payments", "people", "locations")


@pytest.fixture
def bobs_ids(app: Flask, make_customer, make_invoice, make_user) -> dict[str, int]:
    """Ids of everything customer B has, while A is the one logged in."""
    ada, bob = make_customer("Ada"), make_customer("Bob")
    make_invoice(ada, "10.00", due=date(2099, 1, 1))
    invoice = make_invoice(bob, "70.00", due=date(2099, 1, 1))
    bobs_site = make_customer("Bob's yard", parent_id=bob.id, bill_with_parent=True, level=1)
    make_user("ada", customer=ada)
    bob_login = make_user("bob", customer=bob)
    with app.app_context(), db.transaction() as s:
        payment = payment_on(
            invoice,
            "70.00",
            PaymentState.SUCCEEDED,
            "b",
            gateway_key="PBOB1",
            gateway_trans_id="123",
        )
        method = saved_card(bob.id)
        # Services are the company's, not a customer's: another company's is the one to refuse.
        item = CatalogItem(realm_id="other", qbo_id="1", name="Elsewhere")
        invite = AccountToken(
            token_hash="b" * 64,
            purpose=TokenPurpose.INVITE,
            customer_id=bob.id,
            email="friend@example.com",
            member_role="pay",
            expires_at=utcnow() + timedelta(days=1),
        )
        s.add_all([payment, method, item, invite])
        s.flush()
        return {
            "invoice_id": invoice.id,
            "payment_id": payment.id,
            "method_id": method.id,
            "item_id": item.id,
            "user_id": bob_login.id,
            "invite_id": invite.id,
            "customer_id": bob.id,  # staff routes: a customer gets 404 for every one
            "location_id": bobs_site.id,
        }


def customer_routes(app: Flask) -> list[tuple[str, str, list[str]]]:
    """(rule, method, id arguments) of every customer route that takes an id."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in CUSTOMER_BLUEPRINTS or not rule.arguments:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.rule, method, sorted(rule.arguments)))
    return routes


def test_every_customer_route_with_an_id_is_walked(app: Flask):
    assert len(customer_routes(app)) >= 3  # receipts, saved methods (and invoices, PDFs)


def test_customer_a_gets_404_for_every_id_of_customer_b(app: Flask, bobs_ids):
    client = app.test_client()
    login(client, "ada")
    token = csrf_token(client, "/account")
    walked = []
    for rule, method, arguments in customer_routes(app):
        unknown = [a for a in arguments if a not in bobs_ids]
        assert not unknown, f"{rule}: give the walk an id of customer B for {unknown}"
        path = rule
        for name in arguments:
            path = path.replace(f"<int:{name}>", str(bobs_ids[name]))
        if method == "GET":
            response = client.get(path)
        else:
            response = client.open(path, method=method, data={"csrf_token": token})
        assert response.status_code == 404, f"{method} {path} answered {response.status_code}"
        walked.append(path)
    assert walked
