"""One suite, two gateways: FakeGateway and the Authorize.Net adapter (the authorizenet SDK
against the Authorize.Net sandbox) must behave alike, or the fake has drifted."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pyxb.exceptions_ import PyXBException

from portal.payments.authorizenet import AuthorizeNetGateway
from portal.payments.fake import FakeGateway, FakeMethod
from portal.payments.gateway import (
    ChargeRequest,
    ChargeResult,
    GatewayError,
    MethodOwner,
    Outcome,
    PaymentGateway,
    SavedProfile,
    Token,
    Validation,
)
from sandbox.authorizenet import AnetSandbox
from tests.integration.anet_fixtures import *  # noqa: F403  (fixtures)
from tests.integration.anet_fixtures import card_token


@dataclass
class Processor:
    """A gateway, and how to make the processor do what a test needs next."""

    gateway: PaymentGateway
    token: Callable[[], Token]  # a fresh one-time token for Visa 4111 1111 1111 1111, 12/2030
    decline_next: Callable[[], None]
    hold_next: Callable[[], None]
    lose_next_answer: Callable[[], None]  # the charge is made, its answer never arrives
    now: Callable[[], datetime]
    card: Callable[[str, str], Token]  # a token for (card number, billing ZIP), expiring 12/2030
    bank: Callable[[str], Token]  # a token for this account number (routing 121042882)


BRANDS = {"4": "Visa", "5": "MasterCard", "3": "AmericanExpress", "6": "Discover"}


def fake_processor() -> Processor:
    fake = FakeGateway()
    serial = itertools.count(1)

    def lose() -> None:
        fake.lose_answer = True

    def card(number: str, zip_code: str) -> Token:
        value = f"fake-token-{next(serial)}"
        fake.token_methods[value] = FakeMethod("card", BRANDS[number[0]], number[-4:], zip=zip_code)
        return Token("COMMON.ACCEPT.INAPP.PAYMENT", value)

    def bank(account: str) -> Token:
        value = f"fake-token-{next(serial)}"
        fake.token_methods[value] = FakeMethod("bank", "eCheck", account[-4:], None, None)
        return Token("COMMON.ACCEPT.INAPP.PAYMENT", value)

    return Processor(
        gateway=fake,
        token=lambda: Token("COMMON.ACCEPT.INAPP.PAYMENT", f"fake-token-{next(serial)}"),
        decline_next=lambda: fake.next_outcomes.append(Outcome.DECLINED),
        hold_next=lambda: fake.next_outcomes.append(Outcome.HELD),
        lose_next_answer=lose,
        now=lambda: datetime.now(UTC),
        card=card,
        bank=bank,
    )


def sandbox_processor(anet: AnetSandbox, gateway: AuthorizeNetGateway) -> Processor:
    return Processor(
        gateway=gateway,
        token=lambda: card_token(anet),
        decline_next=anet.state.faults.decline_next,
        hold_next=anet.state.faults.hold_for_review_next,
        lose_next_answer=anet.state.faults.drop_after_charge,
        now=anet.state.now,
        card=lambda number, zip_code: card_token(anet, number, zip_code),
        bank=lambda account: Token(*anet.state.tokenize_bank(account)),
    )


@pytest.fixture(params=["fake", "authorizenet"])
def processor(request: pytest.FixtureRequest) -> Processor:
    if request.param == "fake":
        return fake_processor()
    return sandbox_processor(request.getfixturevalue("anet"), request.getfixturevalue("gateway"))


def charge(
    processor: Processor,
    key: str,
    amount: str = "25.00",
    token: Token | None = None,
    customer: str = "42",
    **extra: object,
) -> ChargeResult:
    request = ChargeRequest(
        amount=Decimal(amount),
        key=key,
        description="Invoices 1001",
        customer_ref=customer,
        email=f"customer{customer}@example.com",
        token=token or (None if "profile" in extra else processor.token()),
        **extra,  # type: ignore[arg-type]
    )
    return processor.gateway.charge(request)


def test_a_token_charge_is_approved_with_a_transaction_id_last_4_and_account_type(processor):
    result = charge(processor, "K-1")
    assert result.outcome is Outcome.APPROVED
    assert result.trans_id and result.auth_code
    assert (result.last4, result.account_type) == ("1111", "Visa")
    assert result.saved is None and result.message is None


def test_a_token_used_again_is_refused_and_charges_nothing(processor):
    token = processor.token()
    first = charge(processor, "K-1", token=token)
    again = charge(processor, "K-2", token=token)
    assert first.outcome is Outcome.APPROVED
    assert again.outcome is Outcome.DECLINED and again.trans_id is None
    assert again.message == "Your card details expired before they were sent. Enter them again."
    since = processor.now() - timedelta(minutes=5)
    assert processor.gateway.find("K-2", Decimal("25.00"), since) is None
    assert [t.key for t in processor.gateway.transactions(since)] == ["K-1"]


def test_a_forced_decline_is_declined_with_a_message(processor):
    processor.decline_next()
    result = charge(processor, "K-1")
    assert result.outcome is Outcome.DECLINED
    assert result.trans_id and result.message == "This transaction has been declined."


def test_a_charge_held_for_review_is_held(processor):
    processor.hold_next()
    result = charge(processor, "K-1")
    assert result.outcome is Outcome.HELD and result.trans_id
    assert result.message == "Held for review."


def test_find_returns_the_approved_charge_and_a_declined_one_and_none_for_the_unknown(
    processor,
):
    since = processor.now() - timedelta(minutes=5)
    approved = charge(processor, "K-1", amount="31.40")
    processor.decline_next()
    declined = charge(processor, "K-2", amount="12.00")
    found = processor.gateway.find("K-1", Decimal("31.40"), since)
    assert found is not None and found.outcome is Outcome.APPROVED
    assert (found.trans_id, found.last4, found.account_type) == (approved.trans_id, "1111", "Visa")
    assert processor.gateway.find("K-1", Decimal("31.41"), since) is None  # the amount matters
    found_declined = processor.gateway.find("K-2", Decimal("12.00"), since)
    assert found_declined is not None and found_declined.outcome is Outcome.DECLINED
    assert found_declined.trans_id == declined.trans_id
    assert processor.gateway.find("K-NEVER", Decimal("31.40"), since) is None


def test_a_charge_whose_answer_was_lost_is_unknown_and_found_approved(processor):
    since = processor.now() - timedelta(minutes=5)
    processor.lose_next_answer()
    assert charge(processor, "K-1", amount="31.40").outcome is Outcome.UNKNOWN
    found = processor.gateway.find("K-1", Decimal("31.40"), since)
    assert found is not None and found.outcome is Outcome.APPROVED and found.trans_id


def test_the_same_attempt_again_within_the_duplicate_window_is_unknown(processor):
    since = processor.now() - timedelta(minutes=5)
    first = charge(processor, "K-1")
    again = charge(processor, "K-1")  # same key, amount and customer; a fresh token
    assert first.outcome is Outcome.APPROVED
    assert again.outcome is Outcome.UNKNOWN  # the first answer was lost: recovery finds it
    found = processor.gateway.find("K-1", Decimal("25.00"), since)
    assert found is not None and found.trans_id == first.trans_id
    assert len(processor.gateway.transactions(since)) == 1


def test_transactions_list_what_was_charged_with_its_key_and_amount(processor):
    since = processor.now() - timedelta(minutes=5)
    approved = charge(processor, "K-1", amount="20.00")
    processor.decline_next()
    declined = charge(processor, "K-2", amount="21.00")
    listed = {t.key: t for t in processor.gateway.transactions(since)}
    assert set(listed) == {"K-1", "K-2"}
    ok, no = listed["K-1"], listed["K-2"]
    assert (ok.trans_id, ok.amount, ok.outcome) == (
        approved.trans_id,
        Decimal("20.00"),
        Outcome.APPROVED,
    )
    assert ok.status == "capturedPendingSettlement"
    assert (no.trans_id, no.amount, no.outcome) == (
        declined.trans_id,
        Decimal("0"),
        Outcome.DECLINED,
    )
    assert no.status == "declined"  # a decline settles nothing: its amount is listed as 0
    assert ok.submitted is not None and abs(ok.submitted - processor.now()) < timedelta(minutes=1)


def test_a_saved_method_is_described_charged_again_and_deleted(processor):
    first = charge(processor, "K-1", save_method=True)
    assert first.outcome is Outcome.APPROVED and first.saved is not None
    details = processor.gateway.method_details(first.saved)
    assert (details.profile, details.kind) == (first.saved, "card")
    assert (details.brand, details.last4, details.expiry) == ("Visa", "1111", "12/2030")
    again = charge(processor, "K-2", amount="5.00", profile=first.saved)
    assert again.outcome is Outcome.APPROVED and again.trans_id
    assert (again.last4, again.account_type) == ("1111", "Visa")
    processor.gateway.delete_method(first.saved)
    processor.gateway.delete_method(first.saved)  # already gone is fine
    gone = charge(processor, "K-3", amount="5.00", profile=first.saved)
    assert gone.outcome is Outcome.DECLINED and gone.trans_id is None
    with pytest.raises(GatewayError):
        processor.gateway.method_details(first.saved)


def test_each_customer_gets_a_profile_of_their_own_and_only_one(processor):
    ada = charge(processor, "K-1", customer="1", save_method=True).saved
    grace = charge(processor, "K-2", customer="2", save_method=True).saved
    assert ada is not None and grace is not None
    assert ada.customer_profile_id != grace.customer_profile_id
    # A customer whose profile exists cannot get a second one while paying (E00039): the
    # charge goes through, the method is not saved.
    second = charge(processor, "K-3", customer="1", save_method=True)
    assert second.outcome is Outcome.APPROVED and second.saved is None


def test_an_unknown_profile_is_refused_and_cannot_be_described(processor):
    unknown = SavedProfile("777777", "888888")
    refused = charge(processor, "K-1", profile=unknown)
    assert refused.outcome is Outcome.DECLINED and refused.trans_id is None
    with pytest.raises(GatewayError):
        processor.gateway.method_details(unknown)


def test_a_charge_of_nothing_is_declined_without_a_transaction(processor):
    since = processor.now() - timedelta(minutes=5)
    zero = charge(processor, "K-1", amount="0.00")
    # an error reply carries transId 0, Authorize.Net's "no transaction"; it comes through as is
    assert zero.outcome is Outcome.DECLINED and zero.trans_id == "0"
    assert zero.message == "A valid amount is required."
    assert processor.gateway.transactions(since) == []


def test_a_key_over_20_characters_is_refused_before_anything_is_sent(processor):
    since = processor.now() - timedelta(minutes=5)
    # the key is order.invoiceNumber (20 at most): the SDK's schema check refuses it
    with pytest.raises((ValueError, PyXBException)):
        charge(processor, "K-" + "9" * 19)
    assert processor.gateway.transactions(since) == []


def test_the_public_client_key_is_given(processor):
    assert processor.gateway.client_key()


OWNER = MethodOwner("42", "customer42@example.com")


def test_methods_saved_from_charges_share_the_customers_one_profile(processor):
    gateway = processor.gateway
    visa = charge(processor, "K-1", token=processor.card("4111111111111111", "98004"))
    first = gateway.save_from_charge(OWNER, visa.trans_id)
    by_bank = charge(processor, "K-2", amount="20.00", token=processor.bank("123456789"))
    assert by_bank.account_type == "eCheck" and by_bank.last4 == "6789"
    owner = MethodOwner("42", OWNER.email, first.customer_profile_id)
    second = gateway.save_from_charge(owner, by_bank.trans_id)
    mastercard = charge(processor, "K-3", token=processor.card("5424000000000015", "98004"))
    # Not knowing the profile, the portal still lands in it (the processor names it).
    third = gateway.save_from_charge(OWNER, mastercard.trans_id)
    assert {first.customer_profile_id, second.customer_profile_id, third.customer_profile_id} == {
        first.customer_profile_id
    }
    assert len({first, second, third}) == 3
    shown = [gateway.method_details(p) for p in (first, second, third)]
    assert [(d.kind, d.brand, d.last4, d.expiry) for d in shown] == [
        ("card", "Visa", "1111", "12/2030"),
        ("bank", "Bank account", "6789", None),
        ("card", "MasterCard", "0015", "12/2030"),
    ]
    again = charge(
        processor, "K-4", amount="7.00", token=processor.card("4111111111111111", "98004")
    )
    assert gateway.save_from_charge(owner, again.trans_id) == first  # the same card: one method
    paid = charge(processor, "K-5", amount="8.00", profile=second)
    assert paid.outcome is Outcome.APPROVED and paid.account_type == "eCheck"


def test_a_method_that_cannot_be_saved_from_a_charge_is_an_error(processor):
    with pytest.raises(GatewayError):
        processor.gateway.save_from_charge(OWNER, "999999")
    visa = charge(processor, "K-1")
    with pytest.raises(GatewayError):
        processor.gateway.save_from_charge(MethodOwner("42", None, "777777"), visa.trans_id)


def test_a_method_is_added_after_the_processors_check(processor):
    gateway = processor.gateway
    added = gateway.add_method(OWNER, processor.card("4111111111111111", "98004"), Validation.TEST)
    details = gateway.method_details(added)
    assert (details.kind, details.brand, details.last4) == ("card", "Visa", "1111")
    owner = MethodOwner("42", OWNER.email, added.customer_profile_id)
    bank = gateway.add_method(owner, processor.bank("555566667777"), Validation.LIVE)
    assert bank.customer_profile_id == added.customer_profile_id
    assert gateway.method_details(bank).last4 == "7777"
    again = gateway.add_method(OWNER, processor.card("4111111111111111", "98004"), Validation.TEST)
    assert again == added  # the same card, name, address and ZIP: the one kept
    paid = charge(processor, "K-1", profile=added)
    assert paid.outcome is Outcome.APPROVED and paid.last4 == "1111"


def test_a_declined_check_or_a_used_token_keeps_nothing(processor):
    gateway = processor.gateway
    with pytest.raises(GatewayError, match="declined"):
        gateway.add_method(OWNER, processor.card("4111111111111111", "46282"), Validation.TEST)
    token = processor.card("5424000000000015", "98004")
    kept = gateway.add_method(OWNER, token, Validation.TEST)
    with pytest.raises(GatewayError, match="expired"):
        gateway.add_method(OWNER, token, Validation.TEST)
    owner = MethodOwner("42", OWNER.email, kept.customer_profile_id)
    other = gateway.add_method(owner, processor.card("4007000000027", "98004"), Validation.TEST)
    assert other != kept
    gateway.delete_method(kept)
    with pytest.raises(GatewayError):
        gateway.method_details(kept)
