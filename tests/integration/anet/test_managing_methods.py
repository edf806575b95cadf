"""Managing saved methods through the SDK: the real duplicate rules, a profile from a
transaction, updates, validation and the list of cards expiring in a month."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.authorizenet import AnetSandbox
from tests.integration.anet.conftest import (
    MASTERCARD,
    Gateway,
    bank,
    card,
    contracts,
    first_message,
)

pytestmark = pytest.mark.usefixtures("roomy_pyxb")


def new_profile(gateway: Gateway, customer_id: str, email: str, description: str = "") -> Any:
    profile = contracts.customerProfileType(
        merchantCustomerId=customer_id, email=email, description=description or None
    )
    return gateway.send("createCustomerProfileRequest", profile=profile)


def add_method(
    gateway: Gateway, profile_id: str, pay: Any, mode: str = "none", zip_code: str | None = None
) -> Any:
    spec = contracts.customerPaymentProfileType(payment=pay)
    if zip_code:
        spec.billTo = contracts.customerAddressType(firstName="Ada", lastName="L", zip=zip_code)
    return gateway.send(
        "createCustomerPaymentProfileRequest",
        customerProfileId=profile_id,
        paymentProfile=spec,
        validationMode=mode,
    )


def test_a_customer_profile_is_a_duplicate_only_when_id_description_and_email_all_match(
    gateway: Gateway,
) -> None:
    first = new_profile(gateway, "C-1", "ada@example.com", "Ada")
    profile_id = first.customerProfileId.text
    assert new_profile(gateway, "C-1", "other@example.com", "Ada").messages.resultCode == "Ok"
    assert new_profile(gateway, "C-2", "ada@example.com", "Ada").messages.resultCode == "Ok"
    assert new_profile(gateway, "C-1", "ada@example.com", "Other").messages.resultCode == "Ok"
    duplicate = new_profile(gateway, "C-1", "ADA@example.com", "Ada")
    code, note = first_message(duplicate)
    assert code == "E00039"
    assert note == f"A duplicate record with ID {profile_id} already exists."


def test_a_payment_profile_is_a_duplicate_when_number_name_address_and_zip_match(
    gateway: Gateway,
) -> None:
    profile_id = new_profile(gateway, "C-3", "c3@example.com").customerProfileId.text
    first = add_method(gateway, profile_id, card(), zip_code="98004")
    again = add_method(gateway, profile_id, card(), zip_code="98004")
    assert first_message(again)[0] == "E00039"
    assert again.customerPaymentProfileId.text == first.customerPaymentProfileId.text
    elsewhere = add_method(gateway, profile_id, card(), zip_code="98005")
    assert elsewhere.messages.resultCode == "Ok"  # another billing ZIP: another profile
    assert (
        add_method(gateway, profile_id, card(MASTERCARD), zip_code="98004").messages.resultCode
        == "Ok"
    )


def test_validation_test_mode_declines_the_declining_zip_and_keeps_nothing(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    profile_id = new_profile(gateway, "C-4", "c4@example.com").customerProfileId.text
    declined = add_method(gateway, profile_id, gateway.card_token(zip="46282"), mode="testMode")
    assert declined.messages.resultCode == "Error"
    assert first_message(declined)[0] == "E00027"
    assert declined.validationDirectResponse.text.startswith("2,")
    assert sandbox.state.profiles[profile_id].payment_profiles == {}
    ok = add_method(gateway, profile_id, gateway.card_token(), mode="liveMode")
    assert ok.messages.resultCode == "Ok"
    assert ok.validationDirectResponse.text.startswith("1,")
    assert ",0.01," in ok.validationDirectResponse.text


def test_a_profile_from_a_transaction_is_new_or_joins_the_existing_one(gateway: Gateway) -> None:
    paid = gateway.charge("5.00", gateway.card_token(), invoice="INV-1", customer_id="C-5",
                          email="c5@example.com")  # fmt: skip
    made = gateway.send(
        "createCustomerProfileFromTransactionRequest",
        transId=paid.transactionResponse.transId.text,
        customer=contracts.customerProfileBaseType(
            merchantCustomerId="C-5", email="c5@example.com"
        ),
    )
    assert made.messages.resultCode == "Ok"
    profile_id = made.customerProfileId.text
    by_bank = gateway.charge("6.00", bank(), invoice="INV-2", customer_id="C-5")
    joined = gateway.send(
        "createCustomerProfileFromTransactionRequest",
        transId=by_bank.transactionResponse.transId.text,
        customerProfileId=profile_id,
    )
    assert joined.customerProfileId.text == profile_id
    fetched = gateway.send("getCustomerProfileRequest", customerProfileId=profile_id)
    assert len(list(fetched.profile.paymentProfiles)) == 2
    twice = gateway.send(
        "createCustomerProfileFromTransactionRequest",
        transId=by_bank.transactionResponse.transId.text,
        customerProfileId=profile_id,
    )
    assert first_message(twice)[0] == "E00039"
    assert twice.customerPaymentProfileIdList.numericString[0].text == (
        joined.customerPaymentProfileIdList.numericString[0].text
    )


def test_a_second_profile_from_a_transaction_names_the_existing_one(gateway: Gateway) -> None:
    one = gateway.charge("5.00", card(), invoice="INV-3", customer_id="C-6", email="c6@x.com")
    two = gateway.charge("7.00", card(MASTERCARD), invoice="INV-4", customer_id="C-6",
                         email="c6@x.com")  # fmt: skip
    first = gateway.send(
        "createCustomerProfileFromTransactionRequest", transId=one.transactionResponse.transId.text
    )
    second = gateway.send(
        "createCustomerProfileFromTransactionRequest", transId=two.transactionResponse.transId.text
    )
    code, note = first_message(second)
    assert code == "E00039" and first.customerProfileId.text in note
    unknown = gateway.send("createCustomerProfileFromTransactionRequest", transId="123")
    assert first_message(unknown)[0] == "E00040"


def test_update_profile_and_payment_profile_and_validate(gateway: Gateway) -> None:
    profile_id = new_profile(gateway, "C-7", "c7@example.com").customerProfileId.text
    new_profile(gateway, "C-8", "c8@example.com")
    clash = gateway.send(
        "updateCustomerProfileRequest",
        profile=contracts.customerProfileExType(
            merchantCustomerId="C-8", email="c8@example.com", customerProfileId=profile_id
        ),
    )
    assert first_message(clash)[0] == "E00039"
    renamed = gateway.send(
        "updateCustomerProfileRequest",
        profile=contracts.customerProfileExType(
            merchantCustomerId="C-7", email="new7@example.com", customerProfileId=profile_id
        ),
    )
    assert renamed.messages.resultCode == "Ok"
    pp = add_method(gateway, profile_id, card()).customerPaymentProfileId.text
    updated = gateway.send(
        "updateCustomerPaymentProfileRequest",
        customerProfileId=profile_id,
        paymentProfile=contracts.customerPaymentProfileExType(
            customerPaymentProfileId=pp,
            payment=contracts.paymentType(
                creditCard=contracts.creditCardType(cardNumber="XXXX1111", expirationDate="2031-01")
            ),
            billTo=contracts.customerAddressType(firstName="Ada", zip="46282"),
        ),
    )
    assert updated.messages.resultCode == "Ok"
    shown = gateway.send(
        "getCustomerPaymentProfileRequest",
        customerProfileId=profile_id,
        customerPaymentProfileId=pp,
        unmaskExpirationDate=True,
    )
    assert shown.paymentProfile.payment.creditCard.expirationDate.text == "2031-01"
    checked = gateway.send(
        "validateCustomerPaymentProfileRequest",
        customerProfileId=profile_id,
        customerPaymentProfileId=pp,
        validationMode="testMode",
    )
    assert first_message(checked)[0] == "E00027"  # the billing ZIP now declines
    assert checked.directResponse.text.startswith("2,")


def test_cards_expiring_in_a_month_are_listed_and_paged(gateway: Gateway) -> None:
    profile_id = new_profile(gateway, "C-9", "c9@example.com").customerProfileId.text
    for number in ("4111111111111111", MASTERCARD, "4007000000027"):
        add_method(gateway, profile_id, card(number, expiry="2027-04"))
    add_method(gateway, profile_id, card("370000000000002", expiry="2027-05"))
    add_method(gateway, profile_id, bank())

    def listed(month: str, page: int = 1, limit: int = 2) -> Any:
        return gateway.send(
            "getCustomerPaymentProfileListRequest",
            searchType="cardsExpiringInMonth",
            month=month,
            sorting=contracts.CustomerPaymentProfileSorting(orderBy="id", orderDescending=False),
            paging=contracts.Paging(limit=limit, offset=page),
        )

    first, second = listed("2027-04"), listed("2027-04", page=2)
    assert first.totalNumInResultSet == 3
    numbers = [
        p.payment.creditCard.cardNumber.text
        for reply in (first, second)
        for p in reply.paymentProfiles.paymentProfile
    ]
    assert numbers == ["XXXX1111", "XXXX0015", "XXXX0027"]
    assert first.paymentProfiles.paymentProfile[0].customerProfileId == int(profile_id)
    none = listed("2027-06")
    assert first_message(none)[0] == "I00004" and none.totalNumInResultSet == 0
