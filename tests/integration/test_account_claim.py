""" "Create your login" with no account number: an invoice number and its total (or the billing
ZIP code) send a link to the e-mail address on file, and the answer never tells what matched."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts import signin_policy
from portal.accounts.claim_models import ClaimAttempt
from portal.accounts.models import AccountToken, PortalUser, Role, TokenPurpose
from portal.audit.models import AuditEvent
from portal.billing.models import Customer, Invoice
from portal.db import utcnow
from portal.mail import deliver
from tests.conftest import PASSWORD, Mailbox, csrf_token, login, post_form, text_of

ON_FILE = "ada@books.example"


@pytest.fixture
def ada(make_customer) -> Customer:
    return make_customer("Ada's Bakery", email=ON_FILE, bill_postal_code="94110-1234")


@pytest.fixture
def invoice(make_invoice, ada: Customer) -> Invoice:
    return make_invoice(ada, "1234.50", txn=date(2026, 10, 1))


def ask(client: FlaskClient, number: str, address: str = "127.0.0.1", **fields: str) -> Any:
    """Post the "Create your login" form from a client address."""
    token = csrf_token(client, "/claim")
    data = {"invoice_number": number, "amount": "", "postal_code": "", **fields}
    return client.post(
        "/claim", data={**data, "csrf_token": token}, environ_base={"REMOTE_ADDR": address}
    )


def run_mail(app: Flask) -> None:
    """The worker's e-mail round: the claim's e-mail waits for it."""
    with app.app_context():
        deliver()


def logins_of(app: Flask, customer: Customer) -> list[PortalUser]:
    with app.app_context():
        query = sa.select(PortalUser).where(PortalUser.customer_id == customer.id)
        return list(db.session().scalars(query))


def claim_link_for(app: Flask, client: FlaskClient, number: str, total: str, mailbox) -> str:
    """Ask, let the worker send the e-mail, and return the link in it."""
    answer = ask(client, number, amount=total)
    assert answer.status_code == 302
    run_mail(app)
    return urlsplit(mailbox.last_link()).path


def claim_link(app: Flask, client: FlaskClient, number: str, mailbox: Mailbox) -> str:
    return claim_link_for(app, client, number, "1234.50", mailbox)


def choose(client: FlaskClient, path: str, username: str = "adasbakery") -> Any:
    data = {"username": username, "new_password": PASSWORD, "confirm": PASSWORD}
    return post_form(client, path, data)


def set_self_claim(app: Flask, on: bool) -> None:
    with app.app_context(), db.transaction() as s:
        signin_policy.save(s, "optional", None, None, self_claim=on)


# ---- asking ------------------------------------------------------------------------------


def test_an_invoice_number_and_its_total_e_mail_a_link_to_the_address_on_file(
    app: Flask, client: FlaskClient, invoice: Invoice, mailbox: Mailbox
):
    answer = ask(client, invoice.doc_number or "", amount="$1,234.50", email="me@evil.example")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/claim/requested"
    assert mailbox.messages() == []  # the worker sends it, not the request
    run_mail(app)
    (message,) = mailbox.messages()
    assert message["To"] == ON_FILE
    assert "Create your" in message["Subject"]
    assert "/claim/" in text_of(message)
    page = client.get("/claim/requested").get_data(as_text=True)
    assert "If the details match an account, we have sent a link" in page
    assert "contact" in page


def test_the_billing_zip_code_works_instead_of_the_total_whatever_its_case_and_spaces(
    app: Flask, client: FlaskClient, make_customer, make_invoice, mailbox: Mailbox
):
    uk = make_customer("Babbage Ltd", email="babbage@example.com", bill_postal_code="SW1A 1AA")
    number = make_invoice(uk, "80.00", txn=date(2026, 6, 1)).doc_number or ""

    assert ask(client, f" #{number} ", postal_code="sw1a1aa").status_code == 302

    run_mail(app)
    assert [m["To"] for m in mailbox.messages()] == ["babbage@example.com"]


def test_a_five_digit_zip_matches_the_zip_plus_four_on_file(
    app: Flask, client: FlaskClient, invoice: Invoice, mailbox: Mailbox
):
    ask(client, invoice.doc_number or "", postal_code="94110")
    run_mail(app)
    assert [m["To"] for m in mailbox.messages()] == [ON_FILE]


def _answer(response: Any) -> tuple[int, str | None, str]:
    return response.status_code, response.headers.get("Location"), response.get_data(as_text=True)


def test_every_case_gets_the_identical_answer(
    app: Flask, make_customer, make_invoice, make_user, mailbox: Mailbox
):
    matched = make_customer("Matched", email="m@example.com")
    claimed = make_customer("Claimed", email="c@example.com")
    no_email = make_customer("No e-mail")
    make_user("claimed", customer=claimed)
    numbers = [make_invoice(c, "50.00").doc_number or "" for c in (matched, claimed, no_email)]

    answers = {
        _answer(ask(app.test_client(), number, amount="50.00"))
        for number in [*numbers, "99999", numbers[0] + "0"]
    }
    answers.add(_answer(ask(app.test_client(), numbers[0], amount="50.01")))

    assert len(answers) == 1
    assert answers.pop()[:2] == (302, "/claim/requested")
    run_mail(app)
    assert sorted(m["To"] for m in mailbox.messages()) == ["c@example.com", "m@example.com"]


def test_a_mismatch_sends_nothing(
    app: Flask, client: FlaskClient, invoice: Invoice, mailbox: Mailbox
):
    number = invoice.doc_number or ""
    ask(client, number, amount="1234.51")
    ask(client, number, postal_code="94111")
    ask(client, number, amount="1234.50", postal_code="10001")  # both given: both must fit
    run_mail(app)
    assert mailbox.messages() == []


def test_an_account_with_a_login_gets_a_sign_in_and_reset_hint_and_no_new_login(
    app: Flask, client: FlaskClient, ada: Customer, invoice: Invoice, make_user, mailbox
):
    make_user("ada", email="ada.personal@example.com", customer=ada)

    ask(client, invoice.doc_number or "", amount="1234.50")

    run_mail(app)
    (message,) = mailbox.messages()
    body = text_of(message)
    assert message["To"] == ON_FILE
    assert "already has a login" in body and "/forgot-password" in body and "/claim/" not in body
    assert len(logins_of(app, ada)) == 1


def test_of_several_addresses_on_file_the_first_valid_one_gets_the_link(
    app: Flask, client: FlaskClient, make_customer, make_invoice, mailbox: Mailbox
):
    firm = make_customer("Firm", email="not-an-address, office@firm.example; boss@firm.example")
    number = make_invoice(firm, "15.00").doc_number or ""

    link = urlsplit(claim_link_for(app, client, number, "15.00", mailbox)).path

    assert [m["To"] for m in mailbox.messages()] == ["office@firm.example"]
    assert choose(client, link).status_code == 302
    assert [p.email for p in logins_of(app, firm)] == ["office@firm.example"]


def test_a_customer_with_no_e_mail_on_file_gets_nothing_and_the_same_page(
    app: Flask, client: FlaskClient, make_customer, make_invoice, mailbox: Mailbox
):
    silent = make_customer("Silent Co", bill_postal_code="12345")
    number = make_invoice(silent, "10.00").doc_number or ""

    answer = ask(client, number, amount="10.00")

    assert answer.headers["Location"] == "/claim/requested"
    run_mail(app)
    assert mailbox.messages() == []
    with app.app_context():
        outcome = db.session().scalar(sa.select(ClaimAttempt.outcome))
    assert outcome == "nomail"


def test_only_a_recent_live_invoice_of_an_active_customer_counts(
    app: Flask, client: FlaskClient, ada: Customer, make_invoice, make_customer, mailbox
):
    old = make_invoice(ada, "1234.50", txn=date(2024, 11, 1))  # over 18 months ago
    voided = make_invoice(ada, "1234.50")
    deleted = make_invoice(ada, "1234.50")
    gone = make_customer("Gone", email="gone@example.com", active=False)
    inactive = make_invoice(gone, "1234.50")
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(Invoice).where(Invoice.id == voided.id).values(voided=True))
        s.execute(sa.update(Invoice).where(Invoice.id == deleted.id).values(deleted=True))

    for found in (old, voided, deleted, inactive):
        ask(client, found.doc_number or "", amount="1234.50")

    run_mail(app)
    assert mailbox.messages() == []


def test_an_invoice_number_two_customers_share_matches_only_the_one_that_fits(
    app: Flask, client: FlaskClient, make_customer, make_invoice, mailbox: Mailbox
):
    one = make_customer("One", email="one@example.com", bill_postal_code="11111")
    two = make_customer("Two", email="two@example.com", bill_postal_code="22222")
    first, second = make_invoice(one, "75.00"), make_invoice(two, "75.00")
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(Invoice).where(Invoice.id == second.id).values(doc_number="A-7"))
        s.execute(sa.update(Invoice).where(Invoice.id == first.id).values(doc_number="a-7"))

    ask(client, "A-7", amount="75.00")  # both fit: neither is told
    run_mail(app)
    assert mailbox.messages() == []

    ask(client, "A-7", postal_code="22222")  # one fits
    run_mail(app)
    assert [m["To"] for m in mailbox.messages()] == ["two@example.com"]


def test_another_customers_invoice_number_with_your_details_sends_nothing(
    app: Flask, client: FlaskClient, invoice: Invoice, make_customer, make_invoice, mailbox
):
    other = make_customer("Other", email="other@example.com", bill_postal_code="30301")
    theirs = make_invoice(other, "20.00").doc_number or ""

    ask(client, theirs, amount="1234.50")
    ask(client, theirs, postal_code="94110")

    run_mail(app)
    assert mailbox.messages() == []


def test_requests_are_recorded_in_the_audit_log(
    app: Flask, client: FlaskClient, ada: Customer, invoice: Invoice
):
    ask(client, invoice.doc_number or "", amount="1234.50")
    ask(client, "nothing-like-it", amount="1.00")

    with app.app_context():
        rows = db.session().execute(
            sa.select(AuditEvent.customer_id, AuditEvent.action).order_by(AuditEvent.id)
        )
        assert [tuple(r) for r in rows] == [
            (ada.id, "claim.requested"),
            (None, "claim.requested"),
        ]


# ---- odd input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"amount": "\u0661\u0662\u0663\u0664.\u0665\u0660"}, "digits 0-9"),  # Arabic-Indic digits
        ({"amount": "\uff11\uff12\uff13\uff14.\uff15\uff10"}, "digits 0-9"),  # full-width digits
        ({"amount": "12.345"}, "digits 0-9"),
        ({"amount": "1,23.00"}, "digits 0-9"),
        ({"amount": "-5"}, "digits 0-9"),
        ({"amount": "1e3"}, "digits 0-9"),
        ({"amount": "NaN"}, "digits 0-9"),
        ({}, "Give the invoice&#39;s total, or your billing ZIP"),
        ({"amount": "1" * 500}, "at most 40"),
        ({"postal_code": "9" * 500}, "at most 30"),
    ],
)
def test_odd_amounts_and_sizes_get_a_clear_message_and_send_nothing(
    app: Flask, client: FlaskClient, invoice: Invoice, mailbox: Mailbox, fields, error
):
    answer = ask(client, invoice.doc_number or "", **fields)

    assert answer.status_code == 400
    assert error in answer.get_data(as_text=True)
    run_mail(app)
    assert mailbox.messages() == []


@pytest.mark.parametrize("number", ["x" * 5000, "", "1001\x00", "\u0661\u0660\u0660\u0661"])
def test_odd_invoice_numbers_are_refused_or_simply_match_nothing(
    app: Flask, client: FlaskClient, invoice: Invoice, mailbox: Mailbox, number: str
):
    answer = ask(client, number, amount="1234.50")

    assert answer.status_code in (302, 400)
    if len(number) > 21:
        assert "at most 21" in answer.get_data(as_text=True)
    run_mail(app)
    assert mailbox.messages() == []


# ---- limits ------------------------------------------------------------------------------


def test_one_address_asks_ten_times_an_hour_then_nothing_is_sent(
    app: Flask, client: FlaskClient, invoice: Invoice, mailbox: Mailbox, caplog
):
    for n in range(10):
        assert ask(client, f"guess-{n}", amount="1.00", address="203.0.113.9").status_code == 302

    with caplog.at_level(logging.WARNING, logger="portal.accounts.claim"):
        answer = ask(client, invoice.doc_number or "", amount="1234.50", address="203.0.113.9")

    assert answer.headers["Location"] == "/claim/requested"
    run_mail(app)
    assert mailbox.messages() == []
    assert "past a limit" in caplog.text
    assert ask(client, invoice.doc_number or "", amount="1234.50").status_code == 302
    run_mail(app)
    assert len(mailbox.messages()) == 1  # another address still may


def test_one_customer_gets_at_most_three_e_mails_a_day(
    app: Flask, client: FlaskClient, invoice: Invoice, mailbox: Mailbox
):
    for n in range(5):
        ask(client, invoice.doc_number or "", amount="1234.50", address=f"198.51.100.{n}")

    run_mail(app)
    assert len(mailbox.messages()) == 3
    with app.app_context(), db.transaction() as s:  # a day later
        s.execute(sa.update(ClaimAttempt).values(created_at=utcnow() - timedelta(hours=25)))
    ask(client, invoice.doc_number or "", amount="1234.50", address="198.51.100.9")
    run_mail(app)
    assert len(mailbox.messages()) == 4


# ---- the switch --------------------------------------------------------------------------


def test_with_self_claim_off_the_sign_in_page_hides_it_and_its_pages_refuse(
    app: Flask, client: FlaskClient, ada: Customer, invoice: Invoice, mailbox: Mailbox
):
    assert "Create your login" in client.get("/login").get_data(as_text=True)
    token = csrf_token(client, "/claim")
    link = claim_link(app, client, invoice.doc_number or "", mailbox)

    set_self_claim(app, False)

    assert "Create your login" not in client.get("/login").get_data(as_text=True)
    page = client.get("/claim")
    assert page.status_code == 403
    assert "not available" in page.get_data(as_text=True)
    data = {"invoice_number": invoice.doc_number, "amount": "1234.50", "csrf_token": token}
    assert client.post("/claim", data=data).status_code == 403
    assert client.get(link).status_code == 403  # a link sent before stops working
    assert client.post(link, data={"csrf_token": token}).status_code == 403
    run_mail(app)
    assert len(mailbox.messages()) == 1
    assert logins_of(app, ada) == []


def test_an_admin_turns_self_claim_off_on_the_sign_in_rules_page(
    app: Flask, make_user, invoice: Invoice
):
    make_user("boss", role=Role.ADMIN)
    admin = app.test_client()
    login(admin, "boss")
    data = {"customer_two_factor": "optional", "password_age": "off", "days": ""}

    answer = post_form(admin, "/admin/security", {**data, "self_claim": "off"})

    assert answer.status_code == 302
    assert 'data-testid="self-claim">Off' in admin.get("/admin/security").get_data(as_text=True)
    assert app.test_client().get("/claim").status_code == 403
    post_form(admin, "/admin/security", data)  # not sent: kept as it was
    with app.app_context():
        assert not signin_policy.rules(db.session()).self_claim


# ---- the link ----------------------------------------------------------------------------


def test_the_link_creates_the_login_with_the_e_mail_on_file_and_logs_in(
    app: Flask, client: FlaskClient, ada: Customer, invoice: Invoice, mailbox: Mailbox
):
    link = claim_link(app, client, invoice.doc_number or "", mailbox)
    page = client.get(link).get_data(as_text=True)
    assert "Ada&#39;s Bakery" in page and ON_FILE in page

    done = choose(client, link)

    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    (person,) = logins_of(app, ada)
    assert (person.username, person.email, person.role) == ("adasbakery", ON_FILE, Role.CUSTOMER)
    with app.app_context():
        event = db.session().scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "account.claimed")
        )
        assert event is not None and event.customer_id == ada.id
        assert event.actor_user_id == person.id
    again = app.test_client().get(link)
    assert again.status_code == 400
    assert "already" in again.get_data(as_text=True)


def test_a_weak_password_or_taken_username_keeps_the_link_usable(
    app: Flask, client: FlaskClient, invoice: Invoice, make_user, mailbox: Mailbox
):
    make_user("taken")
    link = claim_link(app, client, invoice.doc_number or "", mailbox)

    weak = post_form(client, link, {"username": "adas", "new_password": "x", "confirm": "x"})
    taken = choose(client, link, username="taken")

    assert weak.status_code == 400 and taken.status_code == 400
    assert "taken" in taken.get_data(as_text=True)
    assert choose(client, link).status_code == 302


def test_an_expired_link_is_refused(
    app: Flask, client: FlaskClient, invoice: Invoice, mailbox: Mailbox
):
    link = claim_link(app, client, invoice.doc_number or "", mailbox)
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))

    answer = client.get(link)

    assert answer.status_code == 400
    assert "expired" in answer.get_data(as_text=True)


def test_of_two_links_for_one_customer_the_second_finds_the_login_made(
    app: Flask, ada: Customer, invoice: Invoice, mailbox: Mailbox
):
    first = claim_link(app, app.test_client(), invoice.doc_number or "", mailbox)
    second = claim_link(app, app.test_client(), invoice.doc_number or "", mailbox)
    assert first != second
    other = app.test_client()
    page = other.get(second)  # opened before the first was used
    assert page.status_code == 200

    assert choose(app.test_client(), first).status_code == 302
    late = other.post(
        second,
        data={
            "username": "someoneelse",
            "new_password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": csrf_token(other, "/login"),
        },
    )

    assert late.status_code == 400
    assert "already has a login" in late.get_data(as_text=True)
    assert len(logins_of(app, ada)) == 1


def test_sixteen_posts_of_one_link_at_once_create_one_login(
    app: Flask, ada: Customer, invoice: Invoice, mailbox: Mailbox
):
    link = claim_link(app, app.test_client(), invoice.doc_number or "", mailbox)
    clients = [app.test_client() for _ in range(16)]
    tokens = [csrf_token(c, link) for c in clients]

    def post(n: int) -> int:
        data = {
            "username": f"ada{n:02d}",
            "new_password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": tokens[n],
        }
        return clients[n].post(link, data=data).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(post, range(16)))

    assert statuses.count(302) == 1, statuses
    assert set(statuses) <= {302, 400}
    assert len(logins_of(app, ada)) == 1


def test_three_links_of_one_customer_posted_at_once_create_one_login(
    app: Flask, ada: Customer, invoice: Invoice, mailbox: Mailbox
):
    links = [claim_link(app, app.test_client(), invoice.doc_number or "", mailbox) for _ in "abc"]
    clients = [app.test_client() for _ in range(12)]
    tokens = [csrf_token(c, links[n % 3]) for n, c in enumerate(clients)]

    def post(n: int) -> int:
        data = {
            "username": f"ada{n:02d}",
            "new_password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": tokens[n],
        }
        return clients[n].post(links[n % 3], data=data).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(post, range(12)))

    assert statuses.count(302) == 1, statuses
    assert len(logins_of(app, ada)) == 1


def test_a_business_that_requires_two_factor_sends_the_new_login_to_set_one_up(
    app: Flask, client: FlaskClient, invoice: Invoice, mailbox: Mailbox
):
    with app.app_context(), db.transaction() as s:
        signin_policy.save(s, "required", None, None)
    link = claim_link(app, client, invoice.doc_number or "", mailbox)

    choose(client, link)

    assert client.get("/").headers["Location"] == "/account/two-factor"


def test_a_link_of_another_purpose_does_not_claim(
    app: Flask, client: FlaskClient, ada: Customer, invoice: Invoice, mailbox: Mailbox
):
    with app.app_context():
        link = claim_link(app, client, invoice.doc_number or "", mailbox)
        with db.transaction() as s:
            s.execute(sa.update(AccountToken).values(purpose=TokenPurpose.INVITE))

    assert client.get(link).status_code == 400
    assert client.get("/claim/not-a-token").status_code == 400
    assert logins_of(app, ada) == []


# ---- how to reach the business -----------------------------------------------------------


def test_the_answer_names_how_to_reach_the_business_as_the_admin_saved_it(
    app: Flask, client: FlaskClient, make_user
):
    make_user("boss", role=Role.ADMIN)
    admin = app.test_client()
    login(admin, "boss")
    bad = post_form(admin, "/admin/branding", {"contact_email": "not an address"})
    assert bad.status_code == 400
    assert "not valid" in bad.get_data(as_text=True)

    saved = post_form(
        admin,
        "/admin/branding",
        {"contact_phone": "+1 415 555 0100", "contact_email": "Office@Bakery.example"},
    )

    assert saved.status_code == 302
    page = client.get("/claim/requested").get_data(as_text=True)
    assert 'href="tel:+14155550100"' in page and "+1 415 555 0100" in page
    assert 'href="mailto:Office@bakery.example"' in page
    set_self_claim(app, False)
    assert "+1 415 555 0100" in client.get("/claim").get_data(as_text=True)
    post_form(admin, "/admin/branding", {"contact_phone": "", "contact_email": ""})
    assert "tel:" not in client.get("/claim/requested").get_data(as_text=True)
