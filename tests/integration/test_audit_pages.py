"""The audit log's pages: the account owner sees their account's events and nobody else's;
staff filter every event and export them as CSV (formula cells neutralised)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import MemberRole, Role
from portal.audit.service import SYSTEM, Actor, record
from tests.conftest import login, post_form

OWNER_PAGE = "/account/activity-log"


@pytest.fixture
def world(app: Flask, make_customer, make_user) -> dict[str, int]:
    ada, bob = make_customer("Ada Lovelace"), make_customer("Bob Builder")
    make_user("ada", customer=ada)
    make_user("bob", customer=bob)
    make_user("boss", role=Role.ADMIN)
    make_user("books", role=Role.BOOKKEEPER)
    return {"ada": ada.id, "bob": bob.id}


def add(app: Flask, customer_id: int | None, action: str, summary: str, **kw) -> int:
    with app.app_context(), db.transaction() as s:
        event = record(s, action, customer_id=customer_id, summary=summary, **kw)
        s.flush()
        return event.id


def test_the_owner_sees_their_accounts_events_newest_first_with_before_and_after(
    app: Flask, client: FlaskClient, world
):
    login(client, "ada")
    post_form(client, "/account/username", {"username": "ada.l"}, "/account")
    add(app, world["bob"], "payment.made", "Paid $99.00 on invoice BOB-SECRET", actor=SYSTEM)
    page = client.get(OWNER_PAGE)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Username changed" in text and "ada → ada.l" in text
    assert text.index("Username changed") < text.index("Signed in")  # newest first
    assert "BOB-SECRET" not in text
    assert "127.0.0.1" in text


def test_another_customers_owner_never_sees_this_accounts_events(
    app: Flask, client: FlaskClient, world
):
    mine = add(
        app, world["ada"], "credit.applied", "Credit of $5.00 on invoice ADA-ONLY", actor=SYSTEM
    )
    login(client, "bob")
    for path in (
        OWNER_PAGE,
        f"{OWNER_PAGE}?before={mine + 1}",
        f"{OWNER_PAGE}?customer_id={world['ada']}",
    ):
        text = client.get(path).get_data(as_text=True)
        assert "ADA-ONLY" not in text


@pytest.mark.parametrize("odd", ["99999999999999999999", str(2**31), "٣", "²", "-1", "abc"])
def test_odd_cursors_show_the_first_page(client: FlaskClient, world, odd: str):
    login(client, "ada")
    assert client.get(f"{OWNER_PAGE}?before={odd}").status_code == 200


def test_a_person_on_the_account_who_is_not_its_owner_is_refused(
    app: Flask, client: FlaskClient, world, make_user
):
    from portal.billing.models import Customer

    with app.app_context():
        ada = db.session().get(Customer, world["ada"])
    make_user("clerk", customer=ada, member_role=MemberRole.VIEW)
    login(client, "clerk")
    assert client.get(OWNER_PAGE).status_code == 403


def test_customers_cannot_reach_the_staff_log_or_its_export(client: FlaskClient, world):
    login(client, "ada")
    assert client.get("/admin/audit").status_code == 404
    assert client.get("/admin/audit.csv").status_code == 404


def test_staff_cannot_use_the_owners_page(client: FlaskClient, world):
    login(client, "boss")
    assert client.get(OWNER_PAGE).status_code == 404


def test_pages_are_keyset_pages_of_fifty(app: Flask, client: FlaskClient, world):
    with app.app_context(), db.transaction() as s:
        for n in range(60):
            record(s, "payment.made", customer_id=world["ada"], actor=SYSTEM, summary=f"n{n:02d}.")
    login(client, "ada")
    first = client.get(OWNER_PAGE).get_data(as_text=True)
    assert "n59." in first and "n11." in first and "n10." not in first  # and the sign-in
    older = first.split('rel="next"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    second = client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert "n10." in second and "n00." in second and "n11." not in second
    assert 'rel="next"' not in second


@pytest.fixture
def staff_world(app: Flask, world) -> dict[str, int]:
    boss = Actor(None, "boss (admin)", "198.51.100.4")
    add(app, world["ada"], "credit.applied", '=HYPERLINK("http://x") credit', actor=boss)
    add(app, world["bob"], "payment.made", "Paid $70.00 on invoice 1002", actor=SYSTEM)
    add(app, None, "login.failed", "Sign-in refused: no such login", actor=None)
    return world


def test_staff_filter_by_customer_action_actor_and_date(app: Flask, client, staff_world):
    login(client, "books")
    everything = client.get("/admin/audit").get_data(as_text=True)
    assert "HYPERLINK" in everything and "1002" in everything and "no such login" in everything
    by_customer = client.get("/admin/audit?customer=bob").get_data(as_text=True)
    assert "1002" in by_customer and "HYPERLINK" not in by_customer
    by_id = client.get(f"/admin/audit?customer_id={staff_world['ada']}").get_data(as_text=True)
    assert "HYPERLINK" in by_id and "1002" not in by_id
    by_action = client.get("/admin/audit?action=login.failed").get_data(as_text=True)
    assert "no such login" in by_action and "1002" not in by_action
    by_actor = client.get("/admin/audit?actor=BOSS").get_data(as_text=True)
    assert "HYPERLINK" in by_actor and "1002" not in by_actor
    today = datetime.now(UTC).date().isoformat()
    assert "1002" in client.get(f"/admin/audit?since={today}&until={today}").get_data(as_text=True)
    gone = client.get("/admin/audit?since=2000-01-01&until=2000-01-02").get_data(as_text=True)
    assert "1002" not in gone


@pytest.mark.parametrize(
    "query",
    [
        "action=drop.tables",
        "since=2026-13-01",
        "until=tomorrow",
        "since=2026-03-02&until=2026-03-01",
        "customer_id=99999999999999999999",
        "customer_id=١٢",
    ],
)
def test_bad_filters_are_told_not_a_server_error(client: FlaskClient, staff_world, query: str):
    login(client, "boss")
    assert client.get(f"/admin/audit?{query}").status_code == 400
    assert client.get(f"/admin/audit.csv?{query}").status_code == 400


def test_the_csv_export_has_a_header_follows_the_filters_and_neutralises_formulas(
    client: FlaskClient, staff_world
):
    login(client, "boss")
    response = client.get(f"/admin/audit.csv?customer_id={staff_world['ada']}")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:6] == ["id", "when (UTC)", "customer id", "customer", "who", "action"]
    assert len(rows) == 2  # ada's one event
    assert rows[1][3] == "Ada Lovelace" and rows[1][5] == "credit.applied"
    assert rows[1][6] == '\'=HYPERLINK("http://x") credit'
    everyone = client.get("/admin/audit.csv").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(everyone)))) == 1 + 3 + 1  # and the sign-in


def test_the_csv_export_reads_in_chunks(app: Flask, client: FlaskClient, world, monkeypatch):
    from portal.audit import queries

    monkeypatch.setattr(queries, "CSV_CHUNK", 7)
    with app.app_context(), db.transaction() as s:
        for n in range(30):
            record(s, "payment.made", customer_id=world["ada"], actor=SYSTEM, summary=f"n{n}")
    login(client, "boss")
    text = client.get("/admin/audit.csv?action=payment.made").get_data(as_text=True)
    ids = [int(r[0]) for r in list(csv.reader(io.StringIO(text)))[1:]]
    assert len(ids) == 30 and ids == sorted(ids, reverse=True)


def test_the_staff_navigation_and_the_owners_account_page_link_the_logs(client: FlaskClient, world):
    login(client, "books")
    assert 'href="/admin/audit"' in client.get("/admin/").get_data(as_text=True)
    client.post("/logout")
    other = client.application.test_client()
    login(other, "ada")
    assert 'href="/account/activity-log"' in other.get("/account").get_data(as_text=True)


def test_the_staff_customer_list_links_each_customers_audit_log(client: FlaskClient, world):
    login(client, "books")
    page = client.get("/admin/").get_data(as_text=True)
    assert f'href="/admin/audit?customer_id={world["ada"]}"' in page
