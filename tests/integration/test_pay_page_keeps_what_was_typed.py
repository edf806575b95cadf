"""Money on the page never surprises: after a decline or a refused amount the pay page comes
back as the customer left it, says which field is wrong beside it, and the only saved method
is the default; removing one asks first."""

from __future__ import annotations

import lxml.html
import pytest
import sqlalchemy as sa

from portal import db
from portal.payments.fake import FakeGateway
from portal.payments.gateway import Outcome
from portal.payments.models import MethodKind, SavedMethod
from tests.conftest import csrf_token, login
from tests.integration import test_payment_pages as pages
from tests.integration.test_payment_pages import pay_form

# The pay pages' fixtures: an app paying through a FakeGateway, Ada and Bob with invoices.
app, gateway, two_customers = pages.app, pages.gateway, pages.two_customers


def _page(response) -> lxml.html.HtmlElement:  # type: ignore[no-untyped-def]
    return lxml.html.fromstring(response.get_data(as_text=True))


def _amount(page: lxml.html.HtmlElement, invoice_id: int) -> lxml.html.HtmlElement:
    [field] = page.xpath(f"//input[@name='amount-{invoice_id}']")
    return field


def _checked(page: lxml.html.HtmlElement, invoice_id: int) -> bool:
    [box] = page.xpath(f"//input[@name='invoice'][@value='{invoice_id}']")
    return box.get("checked") is not None


def test_after_a_decline_the_page_keeps_the_typed_amounts_and_the_selection(
    client, two_customers, gateway: FakeGateway
):
    gateway.next_outcomes.append(Outcome.DECLINED)
    login(client, "ada")
    first, second, third = two_customers["ada"]
    response, _ = pay_form(client, {first.id: "1.00", third.id: "30.25"})
    assert response.status_code == 402
    page = _page(response)
    assert _amount(page, first.id).get("value") == "1.00"
    assert _amount(page, third.id).get("value") == "30.25"
    assert _checked(page, first.id) and _checked(page, third.id)
    assert not _checked(page, second.id)
    assert page.get_element_by_id("pay-total").text_content() == "$31.25"
    assert page.get_element_by_id("pay-button").text_content() == "Pay $31.25"
    summary = page.get_element_by_id("error-summary")
    assert summary.get("hidden") is None and summary.get("tabindex") == "-1"
    assert "declined" in summary.text_content()
    fieldset = page.get_element_by_id("pay-with")
    assert fieldset.get("aria-describedby") == "method-error"
    assert "Nothing was charged" in page.get_element_by_id("method-error").text_content()
    assert page.xpath("//input[@name='method'][@value='card']")[0].get("checked") is not None


def test_a_refused_amount_is_named_beside_its_field_and_the_rest_is_kept(
    client, two_customers, gateway: FakeGateway
):
    login(client, "ada")
    first, second, _ = two_customers["ada"]
    response, _ = pay_form(client, {first.id: "1.00", second.id: "60.00"})
    assert response.status_code == 400
    assert gateway.calls == 0
    page = _page(response)
    wrong = _amount(page, second.id)
    assert wrong.get("value") == "60.00" and wrong.get("aria-invalid") == "true"
    note = page.get_element_by_id(wrong.get("aria-describedby"))
    assert note.get("hidden") is None
    assert "more than its balance of $50.00" in note.text_content()
    fine = _amount(page, first.id)
    assert fine.get("value") == "1.00" and fine.get("aria-describedby") is None
    [link] = page.get_element_by_id("error-summary").xpath(".//a")
    assert link.get("href") == f"#amount-{second.id}"
    assert page.get_element_by_id("pay-total").text_content() == "$61.00"


@pytest.mark.parametrize(
    ("typed", "message"),
    [("0", "more than zero"), ("1.234", "dollars and cents"), ("ten", "dollars and cents")],
)
def test_each_kind_of_bad_amount_is_said_beside_the_field(
    client, two_customers, gateway: FakeGateway, typed: str, message: str
):
    login(client, "ada")
    first = two_customers["ada"][0]
    response, _ = pay_form(client, {first.id: typed})
    assert response.status_code == 400 and gateway.calls == 0
    field = _amount(_page(response), first.id)
    assert field.get("value") == typed
    note = _page(response).get_element_by_id(f"amount-{first.id}-error")
    assert field.get("aria-describedby") == note.get("id") and message in note.text_content()


def _methods(app) -> list[SavedMethod]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session().scalars(sa.select(SavedMethod).order_by(SavedMethod.id)))


def test_the_first_saved_method_is_the_default_and_the_one_left_becomes_it(
    app, client, two_customers, gateway: FakeGateway
):
    login(client, "ada")
    pay_form(client, {two_customers["ada"][0].id: "10.00"}, save_method="1")
    [only] = _methods(app)
    assert only.is_default
    with app.app_context(), db.transaction() as s:  # a bank account saved another time
        s.add(
            SavedMethod(
                customer_id=only.customer_id,
                gateway_customer_profile_id=only.gateway_customer_profile_id,
                gateway_payment_profile_id="second",
                kind=MethodKind.BANK,
                brand="Checking",
                last4="6789",
            )
        )
    one, two = _methods(app)
    assert one.is_default and not two.is_default
    token = csrf_token(client, "/payment-methods")
    client.post(f"/payment-methods/{one.id}/remove", data={"csrf_token": token, "confirm": "1"})
    [left] = _methods(app)
    assert left.id == two.id and left.is_default


def test_removing_a_saved_method_asks_first_and_only_the_confirmed_post_removes_it(
    app, client, two_customers, gateway: FakeGateway
):
    login(client, "ada")
    pay_form(client, {two_customers["ada"][0].id: "10.00"}, save_method="1")
    [method] = _methods(app)
    token = csrf_token(client, "/payment-methods")
    asked = client.post(f"/payment-methods/{method.id}/remove", data={"csrf_token": token})
    assert asked.status_code == 200
    page = _page(asked)
    assert "Remove Visa ending in 1111?" in page.text_content()
    [form] = page.xpath("//form[.//input[@name='confirm'][@value='1']]")
    assert form.get("action") == f"/payment-methods/{method.id}/remove"
    assert form.xpath(".//input[@name='csrf_token']")
    assert len(_methods(app)) == 1
    deletes_before = gateway.calls
    fields = {i.get("name"): i.get("value") for i in form.xpath(".//input[@type='hidden']")}
    done = client.post(form.get("action"), data=fields)
    assert done.status_code == 302
    assert _methods(app) == [] and gateway.calls == deletes_before + 1
