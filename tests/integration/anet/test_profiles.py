"""Customer profiles: save while charging, charge a saved method, CRUD with masked numbers."""

from __future__ import annotations

from typing import Any

import pytest
from authorizenet import apicontrollers
from pyxb.binding.content import AutomatonConfiguration

from sandbox.authorizenet import AnetSandbox
from tests.integration.anet.conftest import (
    MASTERCARD,
    Gateway,
    bank,
    card,
    contracts,
    first_message,
)


def new_profile(gateway: Gateway, customer_id: str, *methods: Any) -> Any:
    """createCustomerProfileRequest with the given payments as payment profiles."""
    profile = contracts.customerProfileType(
        merchantCustomerId=customer_id, email=f"{customer_id}@example.com", description="Portal"
    )
    for method in methods:
        profile.paymentProfiles.append(
            contracts.customerPaymentProfileType(customerType="individual", payment=method)
        )
    return gateway.send("createCustomerProfileRequest", profile=profile)


def test_create_profile_on_a_charge_then_charge_the_saved_profile(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    first = gateway.charge(
        "50.00",
        gateway.card_token(),
        invoice="INV-SAVE",
        create_profile=True,
        customer_id="C-100",
        email="c100@example.com",
    )
    assert first.transactionResponse.responseCode.text == "1"
    saved = first.profileResponse
    assert saved.messages.resultCode.text == "Ok"
    profile_id = saved.customerProfileId.text
    payment_profile_id = saved.customerPaymentProfileIdList.numericString[0].text
    again = gateway.charge("60.00", invoice="INV-REUSE", profile=(profile_id, payment_profile_id))
    tr = again.transactionResponse
    assert tr.responseCode.text == "1"
    assert tr.accountNumber.text == "XXXX1111"
    assert tr.profile.customerProfileId.text == profile_id
    stored = sandbox.state.transactions[tr.transId.text]
    assert (stored.profile_id, stored.payment_profile_id) == (profile_id, payment_profile_id)


def test_saving_the_same_customer_twice_reports_e00039_in_the_profile_response(
    gateway: Gateway,
) -> None:
    kwargs = {"create_profile": True, "customer_id": "C-200", "email": "c200@example.com"}
    gateway.charge("5.00", card(), invoice="INV-P1", **kwargs)
    second = gateway.charge("6.00", card(MASTERCARD), invoice="INV-P2", **kwargs)
    assert second.transactionResponse.responseCode.text == "1"
    assert second.profileResponse.messages.message[0].code.text == "E00039"


@pytest.mark.usefixtures("roomy_pyxb")
def test_create_get_and_delete_payment_profiles_with_masked_numbers(gateway: Gateway) -> None:
    created = new_profile(gateway, "C-300", card(), bank())
    assert created.messages.resultCode.text == "Ok"
    profile_id = created.customerProfileId.text
    ids = [n.text for n in created.customerPaymentProfileIdList.numericString]
    assert len(ids) == 2
    added = gateway.send(
        "createCustomerPaymentProfileRequest",
        customerProfileId=profile_id,
        paymentProfile=contracts.customerPaymentProfileType(payment=gateway.card_token(MASTERCARD)),
    )
    ids.append(added.customerPaymentProfileId.text)

    fetched = gateway.send("getCustomerProfileRequest", customerProfileId=profile_id)
    profile = fetched.profile
    assert profile.merchantCustomerId.text == "C-300"
    masked = {p.customerPaymentProfileId.text: p.payment for p in profile.paymentProfiles}
    assert set(masked) == set(ids)
    assert masked[ids[0]].creditCard.cardNumber.text == "XXXX1111"
    assert masked[ids[0]].creditCard.expirationDate.text == "XXXX"
    assert masked[ids[0]].creditCard.cardType.text == "Visa"
    assert masked[ids[1]].bankAccount.accountNumber.text == "XXXX6789"
    assert masked[ids[2]].creditCard.cardType.text == "MasterCard"

    one = gateway.send(
        "getCustomerPaymentProfileRequest",
        customerProfileId=profile_id,
        customerPaymentProfileId=ids[2],
    )
    assert one.paymentProfile.payment.creditCard.cardNumber.text == "XXXX0015"

    deleted = gateway.send(
        "deleteCustomerPaymentProfileRequest",
        customerProfileId=profile_id,
        customerPaymentProfileId=ids[0],
    )
    assert deleted.messages.resultCode.text == "Ok"
    gone = gateway.send(
        "getCustomerPaymentProfileRequest",
        customerProfileId=profile_id,
        customerPaymentProfileId=ids[0],
    )
    assert gone.messages.message[0].code.text == "E00040"

    removed = gateway.send("deleteCustomerProfileRequest", customerProfileId=profile_id)
    assert removed.messages.resultCode.text == "Ok"
    missing = gateway.send("getCustomerProfileRequest", customerProfileId=profile_id)
    assert missing.messages.message[0].code.text == "E00040"


def test_with_pyxbs_default_cap_a_profile_with_two_methods_falls_back_to_the_raw_tree(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The portal's adapter raises the cap process-wide on import: put PyXB's default back.
    monkeypatch.setattr(AutomatonConfiguration, "PermittedNondeterminism", 20)
    profile_id = new_profile(gateway, "C-350", card(), bank()).customerProfileId.text
    request = gateway.request("getCustomerProfileRequest", customerProfileId=profile_id)
    controller = apicontrollers.getCustomerProfileController(request)
    response = gateway.run(controller)
    assert controller._response is None  # PyXB gave up: ContentNondeterminismExceededError
    assert response.tag.endswith("getCustomerProfileResponse")  # the raw reply, still usable
    payments = [p.payment for p in response.profile.paymentProfiles]
    assert payments[0].creditCard.cardNumber.text == "XXXX1111"
    assert payments[1].bankAccount.accountNumber.text == "XXXX6789"


def test_a_duplicate_customer_profile_is_e00039(gateway: Gateway) -> None:
    new_profile(gateway, "C-400")
    duplicate = new_profile(gateway, "C-400")
    assert duplicate.messages.resultCode.text == "Error"
    code, note = first_message(duplicate)
    assert code == "E00039"
    assert note.startswith("A duplicate record with ID ")


def test_an_eleventh_payment_profile_is_e00042(gateway: Gateway) -> None:
    numbers = [f"{4000 + n}{n:011d}" for n in range(11)]
    profile_id = new_profile(gateway, "C-500").customerProfileId.text
    codes = []
    for index in range(11):
        account = payment_account(index)
        reply = gateway.send(
            "createCustomerPaymentProfileRequest",
            customerProfileId=profile_id,
            paymentProfile=contracts.customerPaymentProfileType(payment=account),
        )
        codes.append(reply.messages.message[0].code.text)
    assert numbers and codes[:10] == ["I00001"] * 10
    assert codes[10] == "E00042"


def payment_account(index: int) -> Any:
    """A distinct eCheck account per index (distinct methods, so no duplicate error)."""
    return bank(account=f"{100000 + index}")


def test_an_unknown_customer_profile_is_e00040(gateway: Gateway) -> None:
    reply = gateway.send("getCustomerProfileRequest", customerProfileId="999999999")
    assert reply.messages.resultCode.text == "Error"
    assert reply.messages.message[0].code.text == "E00040"
