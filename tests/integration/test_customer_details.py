"""/account/details → the QuickBooks Customer, through the outbox and the real python-quickbooks
client against the QuickBooks sandbox: sparse writes, 5010 with another field or the same
field changed in QuickBooks meanwhile, a lost answer, sixteen posts of one form, validation,
and one customer never reaching another's details."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from quickbooks.objects.customer import Customer as QboCustomer

from portal import worker
from portal.accounts.models import PortalUser, Role
from portal.accounts.service import create_user
from portal.billing.models import Customer
from portal.db import utcnow
from portal.details import service as details
from portal.details.models import ChangeStatus, CustomerChange
from portal.outbox import OutboxMessage, OutboxStatus
from sandbox.qbo import QboSandbox
from sandbox.qbo import api as qbo_api
from sync.service import sync_realm
from tests.browser.test_paying import quickbooks_client
from tests.conftest import PASSWORD, enrol_app, login
from tests.integration.money_world import *  # noqa: F403  (sandboxes, app, helpers)
from tests.integration.money_world import REALM, sessions_of

WIDE_PHONE = "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in "(202) 555-0143")
HIDDEN = re.compile(r'name="(csrf_token|version|form_key)"[^>]*value="([^"]*)"')


def add_login(app: Flask, name: str, role: Role, customer_id: int | None = None) -> PortalUser:
    with app.app_context(), sessions_of(app)() as s:
        user = create_user(
            s,
            app.extensions["portal.account_policy"],
            username=name,
            email=f"{name}@example.com",
            password=PASSWORD,
            role=role,
            customer_id=customer_id,
        )
        if role is not Role.CUSTOMER:
            s.flush()
            enrol_app(s, user)  # staff must have a second factor
        s.commit()
        return user


def customers(app: Flask) -> list[Customer]:
    with sessions_of(app)() as s:
        rows = list(s.scalars(sa.select(Customer).order_by(Customer.id)))
        s.expunge_all()
        return rows


@pytest.fixture
def ada(app: Flask) -> Customer:
    """The first mirrored customer, with a login "ada"."""
    first = customers(app)[0]
    add_login(app, "ada", Role.CUSTOMER, first.id)
    return first


@pytest.fixture
def client_ada(app: Flask, ada: Customer) -> FlaskClient:
    client = app.test_client()
    assert login(client, "ada").status_code == 302
    return client


def form_of(client: FlaskClient, app: Flask, customer_id: int) -> dict[str, str]:
    """The details form as the page fills it in (hidden fields included)."""
    page = client.get("/account/details")
    assert page.status_code == 200
    data = dict(HIDDEN.findall(page.get_data(as_text=True)))
    with app.app_context(), sessions_of(app)() as s:
        data.update(details.for_form(details.shown(s, customer_id).values))
    return data


def drain(app: Flask, rounds: int = 4) -> None:
    """The worker's write-back, each round past every back-off so far."""
    for _ in range(rounds):
        with sessions_of(app)() as s:
            s.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
            s.commit()
        with app.app_context():
            worker.write_back(app)


def changes(app: Flask) -> list[CustomerChange]:
    with sessions_of(app)() as s:
        rows = list(s.scalars(sa.select(CustomerChange).order_by(CustomerChange.id)))
        s.expunge_all()
        return rows


def in_quickbooks(qbo: QboSandbox, qbo_id: str) -> Any:
    """The Customer as a bookkeeper's tool reads it (python-quickbooks)."""
    return QboCustomer.get(qbo_id, qb=quickbooks_client(qbo, REALM))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every Customer body the sandbox is sent, as it arrives."""
    bodies: list[dict[str, Any]] = []
    real = qbo_api.writes.save

    def save(company: Any, entity: str, payload: Any, *args: Any) -> Any:
        if entity == "Customer":
            bodies.append(dict(payload))
        return real(company, entity, payload, *args)

    monkeypatch.setattr(qbo_api.writes, "save", save)
    return bodies


def test_a_new_billing_address_reaches_the_quickbooks_customer_sent_sparse(
    app: Flask, sandboxes, ada: Customer, client_ada: FlaskClient, sent: list[dict[str, Any]]
):
    qbo, _anet = sandboxes
    data = form_of(client_ada, app, ada.id)
    data.update(bill_line1="1 Infinite Loop", bill_city="Cupertino", bill_postal_code="95014")
    assert client_ada.post("/account/details", data=data).status_code == 302
    page = client_ada.get("/account/details").get_data(as_text=True)
    assert "Saving to our books" in page and 'value="1 Infinite Loop"' in page
    assert in_quickbooks(qbo, ada.qbo_id).BillAddr.Line1 != "1 Infinite Loop"

    drain(app)

    fetched = in_quickbooks(qbo, ada.qbo_id)
    address = fetched.BillAddr
    assert (address.Line1, address.City, address.PostalCode) == (
        "1 Infinite Loop",
        "Cupertino",
        "95014",
    )
    assert fetched.DisplayName == ada.display_name  # untouched
    assert [set(body) for body in sent] == [{"Id", "SyncToken", "sparse", "BillAddr"}]
    assert sent[0]["sparse"] is True and sent[0]["SyncToken"] == ada.sync_token
    assert [c.status for c in changes(app)] == [ChangeStatus.DONE]
    page = client_ada.get("/account/details").get_data(as_text=True)
    assert "Saving to our books" not in page and 'value="Cupertino"' in page


def test_another_field_changed_in_quickbooks_meanwhile_is_kept_and_ours_reapplied(
    app: Flask, sandboxes, ada: Customer, client_ada: FlaskClient
):
    qbo, _anet = sandboxes
    data = form_of(client_ada, app, ada.id)
    data.update(bill_line1="2 Market St")
    client_ada.post("/account/details", data=data)
    office = {"PrimaryEmailAddr": {"Address": "office@example.com"}}
    qbo.state.faults.edit_before_next_writes(1, office)  # → 5010 on our first write

    drain(app)

    fetched = in_quickbooks(qbo, ada.qbo_id)
    assert fetched.BillAddr.Line1 == "2 Market St"
    assert fetched.PrimaryEmailAddr.Address == "office@example.com"
    assert [c.status for c in changes(app)] == [ChangeStatus.DONE]


def test_the_same_field_changed_in_quickbooks_meanwhile_is_a_conflict_staff_settle(
    app: Flask, sandboxes, ada: Customer, client_ada: FlaskClient
):
    qbo, _anet = sandboxes
    data = form_of(client_ada, app, ada.id)
    data.update(bill_city="Springfield")
    client_ada.post("/account/details", data=data)
    with qbo.state.lock:
        bill = dict(qbo.state.companies[REALM].rows["Customer"][ada.qbo_id]["BillAddr"])
    qbo.state.faults.edit_before_next_writes(1, {"BillAddr": bill | {"City": "Shelbyville"}})

    drain(app)

    assert in_quickbooks(qbo, ada.qbo_id).BillAddr.City == "Shelbyville"  # nothing written
    (change,) = changes(app)
    assert change.status is ChangeStatus.CONFLICT
    assert change.their_values == {"bill_city": "Shelbyville"}
    with sessions_of(app)() as s:
        message = s.get(OutboxMessage, change.message_id)
        assert message is not None and message.status is OutboxStatus.DONE
    assert "our staff are checking" in client_ada.get("/account/details").get_data(as_text=True)
    assert client_ada.get("/admin/customer-changes/").status_code == 404  # staff only

    add_login(app, "boss", Role.BOOKKEEPER)
    staff = app.test_client()
    login(staff, "boss")
    listing = staff.get("/admin/customer-changes/").get_data(as_text=True)
    assert "Springfield" in listing and "Shelbyville" in listing
    assert (
        staff.post(f"/admin/customer-changes/{change.id}/apply-portal").status_code == 400
    )  # CSRF
    token = dict(HIDDEN.findall(listing))["csrf_token"]
    answer = staff.post(
        f"/admin/customer-changes/{change.id}/apply-portal", data={"csrf_token": token}
    )
    assert answer.status_code == 302

    drain(app)

    assert in_quickbooks(qbo, ada.qbo_id).BillAddr.City == "Springfield"
    assert [c.status for c in changes(app)] == [ChangeStatus.DONE]
    again = staff.post(
        f"/admin/customer-changes/{change.id}/keep-quickbooks", data={"csrf_token": token}
    )
    assert again.status_code == 302  # already settled: nothing changes
    assert [c.status for c in changes(app)] == [ChangeStatus.DONE]


def test_keeping_quickbooks_values_closes_the_conflict(
    app: Flask, sandboxes, ada: Customer, client_ada: FlaskClient
):
    qbo, _anet = sandboxes
    data = form_of(client_ada, app, ada.id)
    data.update(company_name="Analytical Engines")
    client_ada.post("/account/details", data=data)
    qbo.state.faults.edit_before_next_writes(1, {"CompanyName": "Difference Engines"})
    drain(app)
    (change,) = changes(app)
    assert change.status is ChangeStatus.CONFLICT
    add_login(app, "boss", Role.ADMIN)
    staff = app.test_client()
    login(staff, "boss")
    token = dict(HIDDEN.findall(staff.get("/admin/customer-changes/").get_data(as_text=True)))
    staff.post(f"/admin/customer-changes/{change.id}/keep-quickbooks", data=token)
    drain(app)
    assert [c.status for c in changes(app)] == [ChangeStatus.DISMISSED]
    assert in_quickbooks(qbo, ada.qbo_id).CompanyName == "Difference Engines"


def test_a_lost_answer_is_not_written_twice(
    app: Flask, sandboxes, ada: Customer, client_ada: FlaskClient, sent: list[dict[str, Any]]
):
    qbo, _anet = sandboxes
    data = form_of(client_ada, app, ada.id)
    data.update(ship_line1="5 Depot Rd", ship_city="Albany", ship_postal_code="12207")
    client_ada.post("/account/details", data=data)
    qbo.state.faults.lose_next_writes(1)  # QuickBooks writes it; the answer never comes

    drain(app)

    fetched = in_quickbooks(qbo, ada.qbo_id)
    assert fetched.ShipAddr.Line1 == "5 Depot Rd"
    assert int(fetched.SyncToken) == int(ada.sync_token) + 1  # one write
    assert len(sent) == 1
    assert [c.status for c in changes(app)] == [ChangeStatus.DONE]


def test_sixteen_posts_of_the_same_form_at_once_are_one_change(
    app: Flask, sandboxes, ada: Customer, client_ada: FlaskClient
):
    data = form_of(client_ada, app, ada.id)
    data.update(bill_line1="16 Parallel Ave")
    cookie = client_ada.get_cookie("portal_session")
    assert cookie is not None
    clients = []
    for _ in range(16):
        c = app.test_client()
        c.set_cookie("portal_session", cookie.value)
        clients.append(c)
    barrier = threading.Barrier(16)
    statuses: list[int] = [0] * 16

    def post(i: int) -> None:
        barrier.wait()
        statuses[i] = clients[i].post("/account/details", data=data).status_code

    threads = [threading.Thread(target=post, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert statuses == [302] * 16
    assert len(changes(app)) == 1
    with sessions_of(app)() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


@pytest.mark.parametrize(
    ("changed", "field", "error"),
    [
        ({"bill_postal_code": "1234"}, "bill_postal_code", "not a postal code"),
        ({"bill_postal_code": "١٢٣٤٥"}, "bill_postal_code", "digits 0-9"),
        ({"bill_country": "CA", "bill_postal_code": "12345"}, "bill_postal_code", "K1A 0B1"),
        ({"phone": "555-1"}, "phone", "phone number"),
        ({"phone": WIDE_PHONE}, "phone", "digits 0-9"),
        ({"email": "not-an-address"}, "email", "not an e-mail address"),
        ({"bill_line1": "x" * 5000}, "bill_line1", "at most 500 characters"),
        ({"display_name": "A" * 5000}, "display_name", "at most 500 characters"),
        ({"display_name": "Parent:Child"}, "display_name", "colon"),
        ({"display_name": ""}, "display_name", ""),
        ({"bill_country": "XX"}, "bill_country", "Not a valid choice"),
        ({"ship_line1": "1 Road"}, "ship_city", "Needed for the address"),
    ],
)
def test_a_mistake_is_shown_by_its_field_and_nothing_is_saved(
    app: Flask, ada: Customer, client_ada: FlaskClient, changed: dict[str, str], field: str, error
):
    data = form_of(client_ada, app, ada.id)
    data.update({"bill_line1": "7 Kept Lane", **changed})
    answer = client_ada.post("/account/details", data=data)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert f'id="{field}-error"' in page and error in page
    assert "7 Kept Lane" in page or field == "bill_line1"  # what was typed stays on the page
    assert changes(app) == []


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ({"bill_postal_code": "123456789"}, {"bill_postal_code": "12345-6789"}),
        (
            {"bill_country": "CA", "bill_postal_code": "k1a0b1", "phone": "416 555 0123"},
            {"bill_country": "Canada", "bill_postal_code": "K1A 0B1", "phone": "+14165550123"},
        ),
        ({"bill_country": "GB", "bill_postal_code": "sw1a1aa"}, {"bill_postal_code": "SW1A 1AA"}),
        ({"phone": "(202) 555-0143"}, {"phone": "+12025550143"}),
        ({"email": "Ada@Example.COM"}, {"email": "Ada@example.com"}),
    ],
)
def test_what_is_typed_is_stored_as_the_books_should_hold_it(
    app: Flask, ada: Customer, client_ada: FlaskClient, typed, stored
):
    data = form_of(client_ada, app, ada.id)
    data.update({"bill_line1": "7 Kept Lane", "bill_city": "Ottawa", **typed})
    assert client_ada.post("/account/details", data=data).status_code == 302
    (change,) = changes(app)
    assert {k: change.wanted[k] for k in stored} == stored
    assert set(change.changes) <= {"bill_line1", "bill_city", *typed, "bill_country"}


def test_the_phone_is_shown_as_people_write_it_and_an_unchanged_form_saves_nothing(
    app: Flask, ada: Customer, client_ada: FlaskClient
):
    data = form_of(client_ada, app, ada.id)
    data.update(phone="202-555-0143")
    client_ada.post("/account/details", data=data)
    page = client_ada.get("/account/details").get_data(as_text=True)
    assert 'value="(202) 555-0143"' in page
    again = form_of(client_ada, app, ada.id)
    assert client_ada.post("/account/details", data=again).status_code == 302
    assert len(changes(app)) == 1


def test_a_form_from_before_a_change_elsewhere_is_shown_again_not_saved(
    app: Flask, ada: Customer, client_ada: FlaskClient
):
    old = form_of(client_ada, app, ada.id)
    newer = dict(old, bill_line1="First Tab Rd", form_key="k" * 20)
    client_ada.post("/account/details", data=newer)
    old.update(bill_city="Second Tab City")
    answer = client_ada.post("/account/details", data=old)
    assert answer.status_code == 400
    assert "changed while you were editing" in answer.get_data(as_text=True)
    assert len(changes(app)) == 1


def test_another_customer_never_sees_or_changes_these_details(
    app: Flask, ada: Customer, client_ada: FlaskClient
):
    other = customers(app)[1]
    add_login(app, "bob", Role.CUSTOMER, other.id)
    bob = app.test_client()
    login(bob, "bob")
    page = bob.get("/account/details").get_data(as_text=True)
    assert other.display_name in page and ada.display_name not in page
    data = form_of(bob, app, other.id)
    data.update(bill_line1="Bob's Road", customer_id=str(ada.id), id=str(ada.id))
    assert bob.post("/account/details", data=data).status_code == 302
    (change,) = changes(app)
    assert change.customer_id == other.id
    assert bob.get("/admin/customer-changes/").status_code == 404
    assert app.test_client().get("/account/details").status_code == 302  # logged out: log in


def test_a_name_another_customer_has_in_quickbooks_is_refused_and_the_customer_told(
    app: Flask, sandboxes, ada: Customer, client_ada: FlaskClient
):
    qbo, _anet = sandboxes
    taken = customers(app)[1].display_name
    data = form_of(client_ada, app, ada.id)
    data.update(display_name=taken.upper())
    client_ada.post("/account/details", data=data)

    drain(app)

    (change,) = changes(app)
    assert change.status is ChangeStatus.FAILED
    with sessions_of(app)() as s:
        message = s.get(OutboxMessage, change.message_id)
        assert message is not None and message.status is OutboxStatus.DONE  # not parked
    assert in_quickbooks(qbo, ada.qbo_id).DisplayName == ada.display_name
    page = client_ada.get("/account/details").get_data(as_text=True)
    assert "another customer by that name" in page and "Saving to our books" not in page


def test_a_sync_while_the_change_is_on_its_way_does_not_bring_the_old_values_back(
    app: Flask, sandboxes, ada: Customer, client_ada: FlaskClient
):
    data = form_of(client_ada, app, ada.id)
    data.update(bill_line1="3 Patient Way")
    client_ada.post("/account/details", data=data)
    with app.app_context():
        assert sync_realm(app, REALM, "full").error is None  # QuickBooks: the old address
    page = client_ada.get("/account/details").get_data(as_text=True)
    assert 'value="3 Patient Way"' in page and "Saving to our books" in page

    drain(app)
    with sessions_of(app)() as s:  # a snapshot read before the write lands after it
        s.execute(
            sa.update(Customer)
            .where(Customer.id == ada.id)
            .values(bill_line1=ada.bill_line1, sync_token=ada.sync_token)
        )
        s.commit()
    page = client_ada.get("/account/details").get_data(as_text=True)
    assert 'value="3 Patient Way"' in page and "Saving to our books" not in page
    with app.app_context():
        assert sync_realm(app, REALM, "full").error is None
    with sessions_of(app)() as s:
        assert s.get(Customer, ada.id).bill_line1 == "3 Patient Way"  # type: ignore[union-attr]
