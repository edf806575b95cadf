"""The Authorize.Net gateway against the Authorize.Net sandbox, through the real SDK bindings."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from portal.config import AuthorizeNetSettings
from portal.payments.authorizenet import AuthorizeNetGateway
from portal.payments.gateway import ChargeRequest, GatewayError, Outcome, SavedProfile, Token
from sandbox.authorizenet import AnetSandbox
from tests.integration.anet_fixtures import *  # noqa: F403  (fixtures)
from tests.integration.anet_fixtures import VISA, card_token


def charge(anet: AnetSandbox, key: str, amount: str = "25.00", **extra) -> ChargeRequest:
    fields = {"token": card_token(anet)} | extra
    return ChargeRequest(
        amount=Decimal(amount),
        key=key,
        description="Invoices 1001",
        customer_ref="42",
        email="ada@example.com",
        **fields,
    )


def test_an_approved_card_charge_is_mapped(gateway, anet):
    result = gateway.charge(charge(anet, "P1"))
    assert result.outcome is Outcome.APPROVED
    assert (result.last4, result.account_type) == ("1111", "Visa")
    assert result.trans_id and result.auth_code
    assert gateway.calls == 1


def test_a_declined_card_is_declined_with_the_reason(gateway, anet):
    token = card_token(anet, zip_code="46282")
    result = gateway.charge(charge(anet, "P2", token=token))
    assert result.outcome is Outcome.DECLINED
    assert "declined" in (result.message or "").lower()


def test_an_expired_accept_token_is_declined_with_words(gateway, anet, anet_clock):
    request = charge(anet, "P3")
    anet_clock.advance(16 * 60)
    result = gateway.charge(request)
    assert result.outcome is Outcome.DECLINED
    assert "expired" in (result.message or "")


def test_a_reused_token_charges_nothing_the_second_time(gateway, anet):
    request = charge(anet, "P4")
    assert gateway.charge(request).outcome is Outcome.APPROVED
    again = gateway.charge(dataclasses.replace(request, key="P4b"))
    assert again.outcome is Outcome.DECLINED


def test_a_lost_answer_is_unknown_and_find_recovers_the_charge(gateway, anet):
    anet.state.faults.hang_next(before_charge=False, seconds=5)
    result = gateway.charge(charge(anet, "P5", amount="31.40"))
    assert result.outcome is Outcome.UNKNOWN
    anet.state.faults.release()
    found = gateway.find("P5", Decimal("31.40"), anet.state.now())
    assert found is not None and found.outcome is Outcome.APPROVED
    assert found.last4 == "1111" and found.trans_id
    # the amount must match too
    assert gateway.find("P5", Decimal("31.41"), anet.state.now()) is None


def test_a_dropped_connection_after_the_charge_is_unknown_not_failed(gateway, anet):
    anet.state.faults.drop_after_charge()
    assert gateway.charge(charge(anet, "P6")).outcome is Outcome.UNKNOWN
    assert gateway.find("P6", Decimal("25.00"), anet.state.now()).outcome is Outcome.APPROVED


def test_a_hang_before_the_charge_leaves_nothing_to_find(gateway, anet):
    anet.state.faults.hang_next(before_charge=True, seconds=5)
    assert gateway.charge(charge(anet, "P7")).outcome is Outcome.UNKNOWN
    anet.state.faults.release()
    assert gateway.find("P7", Decimal("25.00"), anet.state.now()) is None


def test_a_duplicate_within_the_window_is_unknown_and_points_to_the_first(gateway, anet):
    first = charge(anet, "P8")
    assert gateway.charge(first).outcome is Outcome.APPROVED
    again = gateway.charge(dataclasses.replace(first, token=card_token(anet)))
    assert again.outcome is Outcome.UNKNOWN
    assert gateway.find("P8", Decimal("25.00"), anet.state.now()).outcome is Outcome.APPROVED


def test_a_charge_held_for_review_is_held(gateway, anet):
    anet.state.faults.hold_for_review_next()
    assert gateway.charge(charge(anet, "P9")).outcome is Outcome.HELD


def test_an_echeck_over_100_dollars_is_declined(gateway, anet):
    descriptor, value = anet.state.tokenize_bank("123456789")
    ok = gateway.charge(charge(anet, "PA", amount="100.00", token=Token(descriptor, value)))
    assert ok.outcome is Outcome.APPROVED and ok.account_type == "eCheck"
    descriptor, value = anet.state.tokenize_bank("123456789")
    over = gateway.charge(charge(anet, "PB", amount="100.01", token=Token(descriptor, value)))
    assert over.outcome is Outcome.DECLINED


def test_settled_charges_are_found_in_the_batches(gateway, anet):
    assert gateway.charge(charge(anet, "PC")).outcome is Outcome.APPROVED
    anet.state.settle()
    found = gateway.find("PC", Decimal("25.00"), anet.state.now())
    assert found is not None and found.outcome is Outcome.APPROVED


def test_a_method_saved_while_paying_is_charged_shown_and_removed(gateway, anet):
    first = gateway.charge(charge(anet, "PD", save_method=True))
    assert first.saved is not None
    again = gateway.charge(charge(anet, "PE", token=None, profile=first.saved))
    assert again.outcome is Outcome.APPROVED and again.last4 == "1111"
    details = gateway.method_details(first.saved)
    assert (details.brand, details.last4, details.expiry) == ("Visa", "1111", "12/2030")
    gateway.delete_method(first.saved)
    gone = gateway.charge(charge(anet, "PF", token=None, profile=first.saved))
    assert gone.outcome is Outcome.DECLINED


def test_the_public_client_key_comes_from_the_merchant_details(gateway, anet):
    assert gateway.client_key() == anet.state.client_key


def test_an_unreachable_processor_charges_nothing(anet):
    settings = AuthorizeNetSettings(
        api_login_id="x", transaction_key="y", api_url="http://127.0.0.1:9/xml/v1/request.api"
    )
    result = AuthorizeNetGateway(settings).charge(charge(anet, "PG"))
    assert result.outcome is Outcome.DECLINED and "could not be reached" in result.message
    with pytest.raises(GatewayError):
        AuthorizeNetGateway(settings).find("PG", Decimal(1), anet.state.now())


def test_no_card_number_reaches_the_logs(gateway, anet, caplog):
    caplog.set_level("DEBUG")
    anet.state.faults.drop_after_charge()
    gateway.charge(charge(anet, "PH"))
    assert VISA not in caplog.text and "4111" not in caplog.text
    assert SavedProfile("1", "2").payment_profile_id == "2"


def test_a_method_saved_while_paying_is_listed_with_brand_and_expiry(
    app, make_customer, make_invoice, gateway, anet
):
    import sqlalchemy as sa

    from portal.payments import service
    from portal.payments.models import MethodKind, SavedMethod
    from portal.payments.service import Method

    customer = make_customer("Ada")
    invoice = make_invoice(customer, "40.00")
    sessions = app.extensions["portal.db"].sessions
    descriptor, value = anet.state.tokenize_card(VISA, "12", "2030")
    method = Method(MethodKind.CARD, token=Token(descriptor, value), save=True)
    with app.app_context():
        with sessions() as s:
            payment = service.start(s, customer.id, None, {invoice.id: "40.00"}, "k" * 24, method)
            s.commit()
            payment_id = payment.id
        service.charge(sessions, gateway, payment_id, method)
    with sessions() as s:
        saved = s.scalar(sa.select(SavedMethod))
        assert (saved.brand, saved.last4) == ("Visa", "1111")
        assert saved.expiry == "12/2030"  # asked unmasked; shown as MM/YYYY
