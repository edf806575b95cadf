"""Staff pages: the customer list (search, sort, pages, invitations), the QuickBooks company by
name, the late-fee form reading only the chosen kind's fields, and tables that stack on phones."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from portal.accounts.models import Role
from portal.app import create_app
from portal.config import Settings
from portal.overdue.models import LateFeePolicyRow
from sandbox.qbo import Company
from sync.fake import FakeAccounting
from sync.models import SyncState
from sync.service import note_company_name, sync_realm
from tests.conftest import Mailbox, login, post_form
from tests.integration.qbo_fixtures import *  # noqa: F403  (sandbox, company, connected, ...)

LONG_AGO = date(2020, 1, 1)  # a due date long past, whatever today is


@pytest.fixture
def admin(app: Flask, make_user) -> FlaskClient:
    make_user("boss", role=Role.ADMIN)
    client = app.test_client()
    login(client, "boss")
    return client


def names_listed(client: FlaskClient, query: str = "") -> list[str]:
    """The customer names in the list's first column, in order."""
    page = client.get(f"/admin/{query}").get_data(as_text=True)
    return re.findall(r'<td data-label="Customer">([^<]*)</td>', page)


def test_staff_find_customers_by_name_email_or_username_in_any_case(
    admin: FlaskClient, make_customer, make_user
):
    make_customer("Oak Street Bakery", email="accounts@oak.example")
    make_customer("Birch Hardware", email="ap@birch.example")
    maple = make_customer("Maple Cafe")
    make_user("MapleFan", customer=maple)
    assert names_listed(admin, "?q=oak+STREET") == ["Oak Street Bakery"]
    assert names_listed(admin, "?q=BIRCH.example") == ["Birch Hardware"]
    assert names_listed(admin, "?q=maplefan") == ["Maple Cafe"]
    assert names_listed(admin, "?q=%25") == []  # % is a character, not a wildcard
    assert names_listed(admin, "?q=_") == []
    assert len(names_listed(admin)) == 3


@pytest.mark.parametrize("odd", ["%00%27;--", "a" * 5000, "%F0%9F%A5%90", "%5C", "%27%20OR%201=1"])
def test_odd_search_text_finds_nothing_and_never_fails(admin: FlaskClient, make_customer, odd):
    make_customer("Oak Street Bakery")
    response = admin.get(f"/admin/?q={odd}")
    assert response.status_code == 200
    assert "No customer matches" in response.get_data(as_text=True)


def test_invisible_characters_are_dropped_from_the_search(admin: FlaskClient, make_customer):
    make_customer("Oak Street Bakery")
    make_customer("Birch Hardware")
    assert names_listed(admin, "?q=%E2%80%AEOak%00%20%20Street") == ["Oak Street Bakery"]


def test_staff_sort_by_name_balance_or_overdue_and_nothing_else(
    admin: FlaskClient, make_customer, make_invoice
):
    make_customer("Cedar", balance=Decimal("10.00"))
    owes_late = make_customer("Alder", balance=Decimal("5.00"))
    make_customer("birch", balance=Decimal("900.00"))
    make_invoice(owes_late, "5.00", due=LONG_AGO)
    assert names_listed(admin) == ["Alder", "birch", "Cedar"]  # names in any case, A to Z
    assert names_listed(admin, "?sort=balance") == ["birch", "Cedar", "Alder"]
    assert names_listed(admin, "?sort=overdue") == ["Alder", "birch", "Cedar"]
    assert names_listed(admin, "?sort=display_name%20desc") == ["Alder", "birch", "Cedar"]
    page = admin.get("/admin/?sort=overdue").get_data(as_text=True)
    assert '<option value="overdue" selected>' in page


def test_the_list_shows_25_a_page_and_odd_page_numbers_land_on_a_real_page(
    admin: FlaskClient, make_customer
):
    for n in range(30):
        make_customer(f"Customer {n:02d}")
    assert len(names_listed(admin)) == 25
    assert names_listed(admin, "?page=2") == [f"Customer {n}" for n in range(25, 30)]
    first = names_listed(admin)
    for odd in ["0", "-3", "abc", "2.5", "", "%EF%BC%91%EF%BC%92", "1e3"]:  # fullwidth 12
        assert names_listed(admin, f"?page={odd}") == first, odd
    last = admin.get("/admin/?page=99999999999999999999").get_data(as_text=True)
    assert "Page 2 of 2" in last and "Customer 29" in last


def test_the_pages_keep_the_search_and_the_sort(admin: FlaskClient, make_customer):
    for n in range(30):
        make_customer(f"Oak {n:02d}")
    make_customer("Birch")
    page = admin.get("/admin/?q=oak&sort=balance").get_data(as_text=True)
    assert "31 customers" not in page and "30 customers" in page
    assert 'href="/admin/?q=oak&amp;sort=balance&amp;page=2"' in page


def test_the_list_says_to_whom_and_when_an_invitation_went(
    admin: FlaskClient, make_customer, mailbox: Mailbox
):
    oak = make_customer("Oak Street Bakery", email="accounts@oak.example")
    assert "Not invited" in admin.get("/admin/").get_data(as_text=True)
    sent = post_form(
        admin,
        "/admin/invite",
        {"customer_id": str(oak.id), "email": "Owner@Oak.example", "q": "oak"},
        page="/admin/",
    )
    assert sent.status_code == 302 and sent.headers["Location"] == "/admin/?q=oak"
    page = admin.get("/admin/?q=oak").get_data(as_text=True)
    assert "Invitation sent to Owner@oak.example." in page  # the domain lower-cased
    shown = re.search(r'data-testid="invitation">([^\n]*)</td>', page)
    assert shown is not None
    assert "To Owner@oak.example, " in shown.group(1) and "link valid until" in shown.group(1)
    assert re.search(r"\d{4}, \d{1,2}:\d{2}\s[AP]M", shown.group(1))  # when, in words
    assert mailbox.messages()[-1]["To"] == "Owner@oak.example"


# --- the QuickBooks company, by name ---------------------------------------------------------


@pytest.fixture
def qbo_app(qbo_settings: Settings, app: Flask, monkeypatch) -> Iterator[Flask]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    wired = create_app({"SETTINGS": qbo_settings, "ARGON2_CHEAP": True})
    yield wired
    wired.extensions["portal.db"].engine.dispose()


def test_the_quickbooks_page_names_the_company_after_its_first_sync(
    qbo_app: Flask, make_user, company: Company, connected: str
):
    make_user("boss", role=Role.ADMIN)
    client = qbo_app.test_client()
    login(client, "boss")
    before = client.get("/admin/quickbooks").get_data(as_text=True)
    assert "name read at the first sync" in before
    with qbo_app.app_context():
        run = sync_realm(qbo_app, connected)
    assert run is not None and run.error is None
    page = client.get("/admin/quickbooks").get_data(as_text=True)
    heading = re.search(r'data-testid="company-name">(.*?)</h2>', page)
    assert heading is not None
    named = heading.group(1)
    assert named.startswith(company.name) and f"Company ID {connected}" in named
    asked = post_form(
        client, "/admin/quickbooks/disconnect", {"realm_id": connected}, page="/admin/quickbooks"
    )
    assert f"Disconnect {company.name} from the portal?" in asked.get_data(as_text=True)


def test_the_name_is_read_once_then_again_only_at_a_full_sync(
    app: Flask, sessions: sessionmaker[Session]
):
    fake = FakeAccounting("realm-7")
    with sessions() as s:
        s.add(SyncState(realm_id="realm-7"))
        s.commit()
    assert note_company_name(fake, sessions, refresh=False) == "Fake Books Co."
    fake.name = "Fake Books Renamed"
    calls = fake.calls
    assert note_company_name(fake, sessions, refresh=False) == "Fake Books Co."
    assert fake.calls == calls  # an incremental sync asks nothing
    assert note_company_name(fake, sessions, refresh=True) == "Fake Books Renamed"
    fake.fail_on_call = fake.calls + 1
    assert note_company_name(fake, sessions, refresh=True) is None  # a failure is only logged
    with sessions() as s:
        assert s.scalar(sa.select(SyncState.company_name)) == "Fake Books Renamed"


# --- the late-fee form -----------------------------------------------------------------------

POLICY = {
    "enabled": "y",
    "grace_days": "3",
    "amount": "12.50",
    "percent": "1.50",
    "minimum": "5.00",
    "cap": "40.00",
    "frequency": "once",
    "item_name": "Late fee",
}


def saved_policy(sessions: sessionmaker[Session]) -> LateFeePolicyRow:
    with sessions() as s:
        row = s.scalar(sa.select(LateFeePolicyRow))
        assert row is not None
        return row


def test_without_javascript_every_fee_field_shows_saying_which_kind_it_is_for(
    admin: FlaskClient,
):
    page = admin.get("/admin/late-fees").get_data(as_text=True)
    flat = page.split('data-fee-kind="flat"')[1].split("</div>")[0]
    assert 'name="amount"' in flat and "For a flat fee only" in flat
    percent = page.split('data-fee-kind="percent"')[1].split("</div>")[0]
    assert all(f'name="{name}"' in percent for name in ("percent", "minimum", "cap"))
    assert percent.count("For a percentage fee only") == 3
    assert " hidden" not in flat + percent  # only the script hides, so nothing is lost without it
    assert "late_fees.js" in page


def test_a_flat_fee_ignores_the_percentage_fields_even_when_they_are_nonsense(
    admin: FlaskClient, sessions: sessionmaker[Session]
):
    form = {**POLICY, "kind": "flat", "percent": "lots", "minimum": "-1", "cap": "x"}
    assert post_form(admin, "/admin/late-fees", form).status_code == 302
    row = saved_policy(sessions)
    assert (row.kind, row.amount) == ("flat", Decimal("12.50"))
    assert (row.minimum, row.cap) == (Decimal("0.00"), None)  # a flat fee is neither raised nor cut


def test_a_percentage_fee_ignores_the_flat_amount_and_keeps_the_one_in_force(
    admin: FlaskClient, sessions: sessionmaker[Session]
):
    assert post_form(admin, "/admin/late-fees", {**POLICY, "kind": "flat"}).status_code == 302
    form = {**POLICY, "kind": "percent", "amount": "nonsense", "percent": "2"}
    assert post_form(admin, "/admin/late-fees", form).status_code == 302
    row = saved_policy(sessions)
    assert (row.kind, row.percent, row.minimum, row.cap) == (
        "percent",
        Decimal("2.00"),
        Decimal("5.00"),
        Decimal("40.00"),
    )
    assert row.amount == Decimal("12.50")  # switching back to flat finds it as it was


def test_the_chosen_kind_s_fields_are_still_checked(admin: FlaskClient):
    response = post_form(admin, "/admin/late-fees", {**POLICY, "kind": "percent", "percent": "x"})
    assert response.status_code == 400
    assert "percentage as a number" in response.get_data(as_text=True)


# --- tables that stack into cards on phones --------------------------------------------------


class Cells(HTMLParser):
    """Collects, per table, its header texts and each body cell's data-label."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, list]] = []
        self._where: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self.tables.append({"class": [found.get("class") or ""], "th": [], "td": []})
        elif tag in ("thead", "tbody"):
            self._where = tag
        elif tag == "th" and self.tables:
            self.tables[-1]["th"].append("")
        elif tag == "td" and self._where == "tbody":
            self.tables[-1]["td"].append(found.get("data-label"))

    def handle_data(self, data: str) -> None:
        if self.tables and self.tables[-1]["th"] and self._where == "thead":
            self.tables[-1]["th"][-1] += data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("thead", "tbody"):
            self._where = None


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/late-fees", "/admin/overdue", "/admin/payments", "/admin/notices"]
)
def test_staff_tables_stack_with_a_heading_and_label_for_every_cell(
    admin: FlaskClient, make_customer, make_invoice, make_user, path: str
):
    late = make_customer("Alder", balance=Decimal("5.00"))
    make_invoice(late, "5.00", due=LONG_AGO)
    post_form(admin, "/admin/overdue/refresh", {}, page="/admin/overdue")
    response = admin.get(path)
    assert response.status_code == 200
    cells = Cells()
    cells.feed(response.get_data(as_text=True))
    assert cells.tables, path
    for table in cells.tables:
        assert "stack" in table["class"][0].split(), path
        assert table["th"] and all(table["th"]), (path, table["th"])
        assert table["td"] and all(table["td"]), (path, table["td"])
