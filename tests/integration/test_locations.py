"""An account is a customer and its service locations (QuickBooks sub-customers billed with
it): the customer sees, pays and names them all, and never another account's, a location
billed on its own included (card processor faked)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.app import create_app
from portal.audit.models import AuditEvent
from portal.billing.locations import account_customer_ids
from portal.billing.models import Customer, Invoice
from portal.config import Settings
from portal.payments.fake import FakeGateway
from portal.payments.models import Payment, PaymentState
from tests.conftest import csrf_token, login, post_form
from tests.integration.test_payment_pages import pay_form


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def app(settings: Settings, gateway: FakeGateway) -> Iterator[Flask]:  # the conftest app, paying
    from tests.conftest import _wipe

    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "ARGON2_CHEAP": True, "GATEWAY": gateway}
    )
    yield app
    _wipe(app.extensions["portal.db"].engine)
    app.extensions["portal.db"].engine.dispose()


@dataclass
class World:
    harbor: Customer
    pier: Customer  # a location billed with Harbor
    alder: Customer  # another one
    own: Customer  # Harbor's sub-customer billed on its own: an account of its own
    bob: Customer  # another account
    bobs_site: Customer  # Bob's location
    invoices: dict[str, list[Invoice]]


@pytest.fixture
def world(make_customer, make_invoice, make_user) -> World:
    harbor = make_customer("Harborview Property Group")

    def sub(name: str, parent: Customer, billed: bool = True) -> Customer:
        return make_customer(
            name, parent_id=parent.id, parent_qbo_id=parent.qbo_id, bill_with_parent=billed, level=1
        )

    pier = sub("Harborview - 12 Pier Rd", harbor)
    alder = sub("Harborview - 88 Alder St", harbor)
    own = sub("Harborview - Own billing", harbor, billed=False)
    bob = make_customer("Bob Builder")
    bobs_site = sub("Bob - Yard", bob)
    due = date(2099, 1, 1)
    invoices = {
        "harbor": [make_invoice(harbor, "10.00", due=due)],
        "pier": [make_invoice(pier, "100.00", due=due), make_invoice(pier, "40.00", due=due)],
        "alder": [make_invoice(alder, "60.00", balance="25.00", due=due)],
        "own": [make_invoice(own, "777.00", due=due)],
        "bob": [make_invoice(bob, "999.00", due=due)],
        "bobs_site": [make_invoice(bobs_site, "555.00", due=due)],
    }
    make_user("harbor", customer=harbor)
    make_user("own", customer=own)
    make_user("bob", customer=bob)
    return World(harbor, pier, alder, own, bob, bobs_site, invoices)


def numbers(world: World, *names: str) -> set[str]:
    return {str(i.doc_number) for n in names for i in world.invoices[n]}


def shown(page: str, world: World) -> set[str]:
    every = {str(i.doc_number) for rows in world.invoices.values() for i in rows}
    return {n for n in every if f">{n}<" in page}


def test_the_account_is_the_customer_and_its_locations_billed_with_it(app, world: World):
    with app.app_context():
        s = db.session()
        harbor = account_customer_ids(s, world.harbor.id)
        assert harbor == [world.harbor.id, *sorted([world.pier.id, world.alder.id])]
        assert account_customer_ids(s, world.own.id) == [world.own.id]
        assert account_customer_ids(s, world.bob.id) == [world.bob.id, world.bobs_site.id]


def test_dashboard_and_invoice_list_show_the_locations_invoices_with_their_names(
    client: FlaskClient, world: World
):
    login(client, "harbor")
    dashboard = client.get("/").get_data(as_text=True)
    assert shown(dashboard, world) == numbers(world, "harbor", "pier", "alder")
    assert '<span class="amount" data-testid="balance-due">$175.00</span>' in dashboard
    assert "Harborview - 12 Pier Rd" in dashboard and "Harborview - 88 Alder St" in dashboard
    listing = client.get("/invoices").get_data(as_text=True)
    assert shown(listing, world) == numbers(world, "harbor", "pier", "alder")
    statement = client.get("/statements").get_data(as_text=True)
    assert shown(statement, world) >= numbers(world, "pier", "alder")
    assert not shown(statement, world) & numbers(world, "own", "bob", "bobs_site")


def test_a_locations_invoice_opens_under_the_account_and_any_other_is_404(
    client: FlaskClient, world: World
):
    login(client, "harbor")
    page = client.get(f"/invoices/{world.invoices['pier'][0].id}")
    assert page.status_code == 200
    assert "Harborview - 12 Pier Rd" in page.get_data(as_text=True)
    for other in ("own", "bob", "bobs_site"):
        assert client.get(f"/invoices/{world.invoices[other][0].id}").status_code == 404
        assert client.get(f"/invoices/{world.invoices[other][0].id}/pdf").status_code == 404


def test_a_sub_customer_billed_on_its_own_is_its_own_account(client: FlaskClient, world: World):
    login(client, "own")
    page = client.get("/invoices").get_data(as_text=True)
    assert shown(page, world) == numbers(world, "own")
    assert client.get(f"/invoices/{world.invoices['pier'][0].id}").status_code == 404
    assert client.get(f"/invoices/{world.invoices['harbor'][0].id}").status_code == 404


def test_customer_b_never_sees_or_pays_harbors_locations(
    client: FlaskClient, world: World, gateway: FakeGateway
):
    login(client, "bob")
    assert shown(client.get("/").get_data(as_text=True), world) == numbers(
        world, "bob", "bobs_site"
    )
    assert shown(client.get("/pay").get_data(as_text=True), world) == numbers(
        world, "bob", "bobs_site"
    )
    assert client.get(f"/invoices/{world.invoices['pier'][0].id}").status_code == 404
    response, _ = pay_form(client, {world.invoices["pier"][0].id: "100.00"})
    assert response.status_code == 400
    assert "not one of yours" in response.get_data(as_text=True)
    assert gateway.calls == 0


def test_one_payment_across_two_locations_is_one_charge_for_the_account(
    app, client: FlaskClient, world: World, gateway: FakeGateway
):
    login(client, "harbor")
    page = client.get("/pay").get_data(as_text=True)
    assert shown(page, world) == numbers(world, "harbor", "pier", "alder")
    assert 'data-testid="location">Harborview - 88 Alder St<' in page
    pier, alder = world.invoices["pier"][0], world.invoices["alder"][0]
    refused, _ = pay_form(client, {pier.id: "100.00", world.invoices["own"][0].id: "777.00"})
    assert refused.status_code == 400 and gateway.calls == 0  # a location billed on its own
    response, _ = pay_form(client, {pier.id: "100.00", alder.id: "10.00"})
    assert response.status_code in (302, 303)
    assert gateway.calls == 1
    with app.app_context():
        s = db.session()
        payment = s.scalar(sa.select(Payment))
        assert payment.customer_id == world.harbor.id and payment.state is PaymentState.SUCCEEDED
        assert payment.total == 110
        assert {a.invoice_id for a in payment.allocations} == {pier.id, alder.id}
        assert s.get(Invoice, pier.id).balance == 0 and s.get(Invoice, alder.id).balance == 15
        # each location owes less by what was paid on its invoices (the mirror's overlay)
        assert s.get(Customer, world.pier.id).balance == -100
        assert s.get(Customer, world.alder.id).balance == -10
        assert s.get(Customer, world.harbor.id).balance == 0


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    engine = app.extensions["portal.db"].engine
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_pages_query_as_often_for_an_account_with_locations_as_for_one_without(
    app, world: World, make_customer, make_invoice, make_user
):
    due = date(2099, 1, 1)
    for n in range(4):
        site = make_customer(
            f"Harborview - Site {n}", parent_id=world.harbor.id, bill_with_parent=True, level=1
        )
        for _ in range(5):
            make_invoice(site, "12.00", due=due)
    alone = make_customer("Alone")
    make_invoice(alone, "12.00", due=due)
    make_user("alone", customer=alone)
    last = {alone.id: make_invoice(alone, "1.00", due=due).id}
    last[world.harbor.id] = make_invoice(site, "1.00", due=due).id  # a location's
    for path in ("/", "/invoices", "/pay", "/locations", "/invoices/{}"):
        counts = []
        for name, customer in (("alone", alone), ("harbor", world.harbor)):
            visitor = app.test_client()
            login(visitor, name)
            target = path.format(last[customer.id])
            visitor.get(target)  # warm
            with counting(app) as seen:
                assert visitor.get(target).status_code == 200
            counts.append(len(seen))
        assert counts[0] == counts[1], path


def rename(client: FlaskClient, location_id: int | str, name: str) -> Any:
    return client.post(
        f"/locations/{location_id}/name",
        data={"name": name, "csrf_token": csrf_token(client, "/locations")},
    )


def test_the_customer_names_a_location_and_the_name_shows_where_its_invoices_do(
    app, client: FlaskClient, world: World
):
    login(client, "harbor")
    page = client.get("/locations").get_data(as_text=True)
    assert "Harborview - 12 Pier Rd" in page and "Harborview - 88 Alder St" in page
    assert "Harborview - Own billing" not in page and "Bob - Yard" not in page
    assert "$140.00" in page  # the Pier Rd location's open balance
    name = "  Cafe\u0301  Zu\u0308rich \u2013 \u6771\u4eac \U0001f3e0 "  # decomposed, spaced
    response = rename(client, world.pier.id, name)
    assert response.status_code == 303
    with app.app_context():
        s = db.session()
        saved = s.get(Customer, world.pier.id)
        assert saved.location_name == "Caf\u00e9 Z\u00fcrich \u2013 \u6771\u4eac \U0001f3e0"
        assert saved.display_name == "Harborview - 12 Pier Rd"  # QuickBooks' name stays
        event = s.scalar(sa.select(AuditEvent).where(AuditEvent.action == "location.renamed"))
        assert event.customer_id == world.harbor.id
        assert json.loads(event.after)["name"] == saved.location_name
        assert json.loads(event.before)["name"] is None
    for path in ("/", "/invoices", "/pay", f"/invoices/{world.invoices['pier'][0].id}"):
        assert "Café Zürich" in client.get(path).get_data(as_text=True), path
    assert rename(client, world.pier.id, "   ").status_code == 303  # back to QuickBooks' name
    with app.app_context():
        assert db.session().get(Customer, world.pier.id).location_name is None


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("x" * 5000, "at most 100 characters"),
        ("x" * 101, "at most 100 characters"),
        ("Pier\x00Rd", "cannot be shown"),
        ("Pier\u202eRd", "cannot be shown"),
    ],
)
def test_a_name_too_long_or_with_hidden_characters_is_refused(
    app, client: FlaskClient, world: World, name: str, says: str
):
    login(client, "harbor")
    response = rename(client, world.pier.id, name)
    assert response.status_code == 400
    assert says in response.get_data(as_text=True)
    with app.app_context():
        assert db.session().get(Customer, world.pier.id).location_name is None


def test_only_the_accounts_own_locations_can_be_named(app, client: FlaskClient, world: World):
    login(client, "harbor")
    for other in (world.own.id, world.bobs_site.id, world.bob.id, world.harbor.id, 2**31, 99999):
        assert rename(client, other, "Mine now").status_code == 404, other
    assert rename(client, "99999999999999999999", "Mine now").status_code == 404
    no_token = client.post(f"/locations/{world.pier.id}/name", data={"name": "No token"})
    assert no_token.status_code == 400
    with app.app_context():
        names = db.session().scalars(sa.select(Customer.location_name)).all()
        assert set(names) == {None}


def test_the_locations_page_needs_a_customer_login_and_names_only_locations(
    client: FlaskClient, world: World
):
    assert client.get("/locations").status_code == 302
    login(client, "own")  # a sub-customer billed on its own: no locations under it
    assert "no service locations" in client.get("/locations").get_data(as_text=True)
    response = post_form(client, f"/locations/{world.pier.id}/name", {"name": "x"}, "/pay")
    assert response.status_code == 404
