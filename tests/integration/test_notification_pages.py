"""Notification pages: the centre shows a customer only their notices (and the bell counts
them), choices are validated and saved whole or not at all, one-click unsubscribe links work
without a session or CSRF token, and staff see every notice and retry parked deliveries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import Role
from portal.billing.models import Customer
from portal.notifications import unsubscribe
from portal.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    NotificationSetting,
    SmsContact,
    StatementPreference,
)
from portal.notifications.service import notify
from tests.conftest import csrf_token, login, post_form

CENTRE = "/notifications"
CHOICES = "/notifications/preferences"
START = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def a_notice(
    app: Flask,
    customer_id: int,
    title: str = "Office closed Monday",
    kind: str = "news",
    at: datetime = START,
    only: tuple[Channel, ...] | None = None,
) -> int:
    """A notice written the way the jobs write them; its id."""
    with app.app_context(), db.transaction() as s:
        made = notify(
            s,
            kind,
            customer_id=customer_id,
            subject=f"test:{title}",
            period=at.isoformat(),
            title=title,
            body=f"About {title}.",
            link="/invoices",
            only=only,
            now=at,
        )
    assert made is not None
    return made


@pytest.fixture
def ada(app: Flask, make_customer, make_user) -> Customer:
    customer = make_customer("Ada", email="ada@example.com")
    make_user("ada", customer=customer)
    return customer


@pytest.fixture
def bob(app: Flask, make_customer, make_user) -> Customer:
    customer = make_customer("Bob", email="bob@example.com")
    make_user("bob", customer=customer)
    return customer


def titles(page: str) -> list[str]:
    found = re.findall(r"<h2>(.*?)</h2>", page)
    return [re.sub(r"<[^>]+>", "", t).removeprefix("New:").strip() for t in found]


def bell(page: str) -> str | None:
    found = re.search(r'data-testid="bell-count">(\d+)<', page)
    return found.group(1) if found else None


def read_at(app: Flask, notice_id: int) -> datetime | None:
    with app.app_context():
        notice = db.session().get(Notification, notice_id)
        assert notice is not None
        return notice.read_at


# ---- the centre and the bell ----------------------------------------------------------------


def test_the_centre_lists_only_my_notices_newest_first(app: Flask, client: FlaskClient, ada, bob):
    a_notice(app, ada.id, "Invoice 1001 arrived", at=START)
    a_notice(app, ada.id, "Invoice 1001 is due in 7 days", kind="due_soon", at=START + timedelta(1))
    a_notice(app, bob.id, "Bob's secret invoice")
    login(client, "ada")
    page = client.get(CENTRE).get_data(as_text=True)
    assert titles(page) == ["Invoice 1001 is due in 7 days", "Invoice 1001 arrived"]
    assert "Bob" not in page
    assert page.count("data-unread") == 2
    assert 'href="/invoices"' in page
    assert "About Invoice 1001 arrived." in page


def test_a_verification_code_is_not_news_for_the_centre(app: Flask, client: FlaskClient, ada):
    a_notice(app, ada.id, "Phone verification code", kind="phone_code", only=(Channel.SMS,))
    login(client, "ada")
    page = client.get(CENTRE).get_data(as_text=True)
    assert "Phone verification code" not in page
    assert bell(page) is None


def test_another_customers_notice_or_an_impossible_id_is_not_found(
    app: Flask, client: FlaskClient, ada, bob
):
    theirs = a_notice(app, bob.id, "Bob's invoice")
    login(client, "ada")
    token = csrf_token(client, "/account")
    for notice_id in (str(theirs), str(2**31), "99999999999999999999", "0"):
        response = client.post(f"/notifications/{notice_id}/read", data={"csrf_token": token})
        assert response.status_code == 404, notice_id
    assert read_at(app, theirs) is None


def test_marking_one_then_all_read_counts_down_the_bell(app: Flask, client: FlaskClient, ada, bob):
    first = a_notice(app, ada.id, "First", at=START)
    a_notice(app, ada.id, "Second", at=START + timedelta(hours=1))
    a_notice(app, ada.id, "Third", at=START + timedelta(hours=2))
    bobs = a_notice(app, bob.id, "Bob's")
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    assert bell(page) == "3"
    assert re.search(r"Notifications<span class=\"visually-hidden\">,</span>", page)
    assert '3<span class="visually-hidden"> unread</span>' in page
    response = post_form(client, f"/notifications/{first}/read", {}, page=CENTRE)
    assert response.status_code == 302 and response.headers["Location"] == "/notifications"
    assert read_at(app, first) is not None
    assert bell(client.get("/").get_data(as_text=True)) == "2"
    again = post_form(client, f"/notifications/{first}/read", {}, page=CENTRE)
    assert again.status_code == 302  # already read: nothing to do, no error
    assert post_form(client, "/notifications/read-all", {}, page=CENTRE).status_code == 302
    page = client.get(CENTRE).get_data(as_text=True)
    assert bell(page) is None and "data-unread" not in page
    assert read_at(app, bobs) is None  # Bob's stays unread


def test_read_buttons_need_the_csrf_token(app: Flask, client: FlaskClient, ada):
    notice_id = a_notice(app, ada.id)
    login(client, "ada")
    assert client.post("/notifications/read-all").status_code == 400
    assert client.post(f"/notifications/{notice_id}/read").status_code == 400
    assert read_at(app, notice_id) is None


def test_the_centre_shows_25_a_page(app: Flask, client: FlaskClient, ada):
    for n in range(30):
        a_notice(app, ada.id, f"Notice {n:02d}", at=START + timedelta(minutes=n))
    login(client, "ada")
    first = client.get(CENTRE).get_data(as_text=True)
    assert len(titles(first)) == 25 and titles(first)[0] == "Notice 29"
    assert "page 1 of 2" in first
    second = client.get(f"{CENTRE}?page=2").get_data(as_text=True)
    assert titles(second) == [f"Notice {n:02d}" for n in range(4, -1, -1)]
    for odd in ("99999999999999999999", "-1", "abc", "²"):
        assert client.get(f"{CENTRE}?page={odd}").status_code == 200


def test_staff_have_no_bell_and_no_centre(app: Flask, client: FlaskClient, make_user):
    make_user("keeper", role=Role.BOOKKEEPER)
    login(client, "keeper")
    assert 'data-testid="bell"' not in client.get("/admin/").get_data(as_text=True)
    assert client.get(CENTRE).status_code == 404
    assert client.get(CHOICES).status_code == 404


# ---- the customer's choices -----------------------------------------------------------------


def stored(app: Flask, customer_id: int) -> dict[str, str]:
    with app.app_context():
        rows = db.session().scalars(
            sa.select(NotificationPreference).where(
                NotificationPreference.customer_id == customer_id
            )
        )
        return {row.kind: row.channels for row in rows}


def statement(app: Flask, customer_id: int) -> tuple[str, bool] | None:
    with app.app_context():
        row = db.session().get(StatementPreference, customer_id)
        return (row.frequency, row.paperless) if row else None


def verified_phone(app: Flask, customer_id: int, stopped: bool = False) -> None:
    with app.app_context(), db.transaction() as s:
        s.add(
            SmsContact(
                customer_id=customer_id,
                phone="+14155550123",
                verified_at=START,
                opted_out_at=START if stopped else None,
            )
        )


def test_choices_are_saved_per_kind_with_statement_frequency_and_paperless(
    app: Flask, client: FlaskClient, ada
):
    verified_phone(app, ada.id)
    login(client, "ada")
    page = client.get(CHOICES).get_data(as_text=True)
    assert 'name="paperless" value="yes" checked' in page  # paperless by default
    assert 'name="frequency" value="monthly" checked' in page
    response = post_form(
        client,
        CHOICES,
        {
            "kind-due_soon": "sms",
            "kind-news": "off",
            "kind-receipt": "both",
            "frequency": "quarterly",
        },
    )
    assert response.status_code == 302
    chosen = stored(app, ada.id)
    assert chosen["due_soon"] == "sms" and chosen["news"] == "" and chosen["receipt"] == "email,sms"
    assert chosen["new_invoice"] == "email"  # a kind not sent keeps what it was
    assert statement(app, ada.id) == ("quarterly", False)
    page = client.get(CHOICES).get_data(as_text=True)
    assert 'name="kind-due_soon" value="sms" checked' in page
    assert 'name="kind-news" value="off" checked' in page
    assert 'name="frequency" value="quarterly" checked' in page


@pytest.mark.parametrize(
    "form",
    [
        {"kind-carrier_pigeon": "email"},
        {"kind-security": "email"},  # not the customer's to choose
        {"kind-news": "fax"},
        {"kind-news": ["email", "off"]},
        {"kind-receipt": "off"},  # mandatory
        {"frequency": "weekly"},
    ],
)
def test_unknown_kinds_channels_or_turning_off_a_mandatory_kind_save_nothing(
    app: Flask, client: FlaskClient, ada, form
):
    login(client, "ada")
    data = {"kind-due_soon": "off", "frequency": "never", **form}
    response = post_form(client, CHOICES, data)  # type: ignore[arg-type]
    assert response.status_code == 400
    assert "Nothing was saved" in response.get_data(as_text=True)
    assert stored(app, ada.id) == {} and statement(app, ada.id) is None


def test_mandatory_kinds_say_they_are_always_sent_and_have_no_off(
    app: Flask, client: FlaskClient, ada
):
    login(client, "ada")
    page = client.get(CHOICES).get_data(as_text=True)
    receipts = page[page.index('id="kind-receipt"') :]
    receipts = receipts[: receipts.index("</fieldset>")]
    assert "Always sent" in receipts and 'value="off"' not in receipts
    assert 'name="kind-news" value="off"' in page


def test_sms_choices_wait_for_a_verified_number_and_a_stop_is_explained(
    app: Flask, client: FlaskClient, ada
):
    login(client, "ada")
    page = client.get(CHOICES).get_data(as_text=True)
    assert re.search(r'name="kind-news" value="sms" disabled', page)
    assert 'data-testid="sms-none"' in page
    assert 'href="/account/phone"' in page  # where a number is added and verified
    refused = post_form(client, CHOICES, {"kind-news": "sms", "frequency": "monthly"})
    assert refused.status_code == 400 and stored(app, ada.id) == {}
    verified_phone(app, ada.id, stopped=True)
    page = client.get(CHOICES).get_data(as_text=True)
    assert "SMS is off because your number replied STOP; text START to turn it back on" in page
    assert re.search(r'name="kind-news" value="sms" disabled', page)


def test_an_sms_choice_kept_while_the_number_is_stopped_survives_a_save(
    app: Flask, client: FlaskClient, ada
):
    verified_phone(app, ada.id, stopped=True)
    with app.app_context(), db.transaction() as s:
        s.add(NotificationPreference(customer_id=ada.id, kind="due_soon", channels="sms"))
    login(client, "ada")
    # The disabled, checked "SMS" button is not sent by the browser.
    assert (
        post_form(client, CHOICES, {"kind-news": "off", "frequency": "monthly"}).status_code == 302
    )
    assert stored(app, ada.id)["due_soon"] == "sms"


# ---- one-click unsubscribe ------------------------------------------------------------------


def link_for(app: Flask, customer_id: int, kind: str) -> str:
    with app.test_request_context():
        return f"/notifications/unsubscribe/{unsubscribe.token_for(customer_id, kind)}"


def test_an_unsubscribe_link_names_the_kind_and_one_click_turns_it_off(
    app: Flask, client: FlaskClient, ada
):
    link = link_for(app, ada.id, "due_soon")
    page = client.get(link)
    assert page.status_code == 200
    assert "Reminders before an invoice is due" in page.get_data(as_text=True)
    assert stored(app, ada.id) == {}  # looking is not unsubscribing
    # As a mail provider does it (RFC 8058): no session, no CSRF token.
    done = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "no longer get" in done.get_data(as_text=True)
    assert stored(app, ada.id) == {"due_soon": ""}
    assert client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200


@pytest.mark.parametrize("kind", ["receipt", "service_warning", "security"])
def test_a_mandatory_kind_or_a_forged_link_cannot_unsubscribe(
    app: Flask, client: FlaskClient, ada, kind: str
):
    link = link_for(app, ada.id, kind)
    for bad in (link, link[:-3], "/notifications/unsubscribe/nonsense"):
        assert client.get(bad).status_code == 400
        assert client.post(bad, data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert stored(app, ada.id) == {}


def test_a_link_for_a_customer_that_is_gone_is_refused(app: Flask, client: FlaskClient):
    link = link_for(app, 987654, "news")
    assert client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 400


# ---- staff ----------------------------------------------------------------------------------


@pytest.fixture
def keeper(app: Flask, make_user) -> FlaskClient:
    make_user("keeper", role=Role.BOOKKEEPER)
    client = app.test_client()
    login(client, "keeper")
    return client


def test_a_bookkeeper_sees_a_customers_choices_notices_and_deliveries(
    app: Flask, keeper: FlaskClient, ada, bob
):
    verified_phone(app, ada.id, stopped=True)
    with app.app_context(), db.transaction() as s:
        s.add(NotificationPreference(customer_id=ada.id, kind="due_soon", channels="email,sms"))
    a_notice(app, ada.id, "Invoice 1001 is due soon", kind="due_soon")
    a_notice(app, bob.id, "Bob's reminder")
    customers = keeper.get("/admin/").get_data(as_text=True)
    assert f'href="/admin/customers/{ada.id}/notifications"' in customers
    page = keeper.get(f"/admin/customers/{ada.id}/notifications").get_data(as_text=True)
    assert "Invoice 1001 is due soon" in page and "Bob" not in page
    assert "ada@example.com" in page  # the e-mail delivery's address
    assert "+14155550123" not in page and "\u2022\u2022\u2022\u2022 0123" in page
    assert "replied STOP" in page
    assert "the number replied STOP" in page  # the SMS delivery's reason
    assert "E-mail and SMS" in page


def test_customers_get_404_on_staff_pages(app: Flask, client: FlaskClient, ada):
    login(client, "ada")
    for path in (
        f"/admin/customers/{ada.id}/notifications",
        "/admin/notifications",
    ):
        assert client.get(path).status_code == 404
    token = csrf_token(client, "/account")
    assert (
        client.post(
            "/admin/notifications/deliveries/1/retry", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        client.post("/admin/notifications/settings", data={"csrf_token": token}).status_code == 404
    )


def test_staff_pages_for_missing_or_impossible_ids_are_404(app: Flask, keeper: FlaskClient):
    token = csrf_token(keeper, "/account")
    for value in ("2147483647", "99999999999999999999", "0"):
        assert keeper.get(f"/admin/customers/{value}/notifications").status_code == 404
        retry = f"/admin/notifications/deliveries/{value}/retry"
        assert keeper.post(retry, data={"csrf_token": token}).status_code == 404


def park(app: Flask, notice_id: int, status: DeliveryStatus = DeliveryStatus.PARKED) -> int:
    with app.app_context(), db.transaction() as s:
        delivery = s.scalars(sa.select(Delivery).where(Delivery.notification_id == notice_id)).one()
        delivery.status = status
        delivery.attempts = 5
        delivery.last_error = "SMTP said 451"
        return delivery.id


def test_a_parked_delivery_is_listed_and_tried_again(app: Flask, keeper: FlaskClient, ada):
    parked = park(app, a_notice(app, ada.id, "Stuck notice"))
    failed = park(app, a_notice(app, ada.id, "Refused notice"), DeliveryStatus.FAILED)
    page = keeper.get("/admin/notifications").get_data(as_text=True)
    assert "Stuck notice" in page and "Refused notice" in page and "SMTP said 451" in page
    assert f"/deliveries/{parked}/retry" in page and f"/deliveries/{failed}/retry" not in page
    retry = f"/admin/notifications/deliveries/{parked}/retry"
    response = post_form(keeper, retry, {}, page="/account")
    assert response.status_code == 302
    with app.app_context():
        row = db.session().get(Delivery, parked)
        assert row is not None
        assert (row.status, row.attempts) == (DeliveryStatus.QUEUED, 0)
    again = post_form(keeper, retry, {}, page="/account")
    assert again.status_code == 302  # already queued: left alone
    assert "not waiting to be tried again" in keeper.get("/admin/notifications").get_data(
        as_text=True
    )
    failed_retry = f"/admin/notifications/deliveries/{failed}/retry"
    post_form(keeper, failed_retry, {}, page="/account")
    with app.app_context():
        row = db.session().get(Delivery, failed)
        assert row is not None and row.status is DeliveryStatus.FAILED


def skip_new_invoice(app: Flask) -> bool | None:
    with app.app_context():
        row = db.session().get(NotificationSetting, 1)
        return row.skip_new_invoice if row else None


def test_only_an_admin_turns_off_new_invoice_notices(app: Flask, keeper: FlaskClient, make_user):
    page = "/admin/notifications"
    keepers_form = "/account"
    assert 'name="skip_new_invoice"' not in keeper.get(page).get_data(as_text=True)
    refused = post_form(
        keeper, "/admin/notifications/settings", {"skip_new_invoice": "yes"}, keepers_form
    )
    assert refused.status_code == 404 and skip_new_invoice(app) is None
    make_user("boss", role=Role.ADMIN)
    admin = app.test_client()
    login(admin, "boss")
    assert 'name="skip_new_invoice"' in admin.get(page).get_data(as_text=True)
    saved = post_form(admin, "/admin/notifications/settings", {"skip_new_invoice": "yes"}, page)
    assert saved.status_code == 302 and skip_new_invoice(app) is True
    assert 'value="yes" checked' in admin.get(page).get_data(as_text=True)
    post_form(admin, "/admin/notifications/settings", {}, page)
    assert skip_new_invoice(app) is False
    bad = post_form(admin, "/admin/notifications/settings", {"skip_new_invoice": "maybe"}, page)
    assert bad.status_code == 400 and skip_new_invoice(app) is False


def test_the_menu_button_carries_the_unread_count_for_phones(app: Flask, make_user) -> None:
    """On a phone the links fold behind the Menu button: it shows the count too."""
    ada = make_user("ada")
    with app.app_context(), db.transaction() as s:
        notify(s, "news", customer_id=ada.customer_id, subject="n", period="1", title="T", body="B")
    client = app.test_client()
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="menu-count">1<span class="visually-hidden"> unread notifications' in page
