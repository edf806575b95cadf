"""createTransactionRequest through the real SDK: approvals, declines, duplicates, eChecks."""

from __future__ import annotations

from decimal import Decimal

import pytest
import pyxb
import requests
from authorizenet import apicontractsv1 as contracts
from authorizenet import apicontrollers

from sandbox.authorizenet import AnetSandbox, ManualClock
from sandbox.authorizenet.wire import BOM
from tests.integration.anet.conftest import MASTERCARD, Gateway, bank, card, payment


def test_auth_capture_with_a_tokenized_card_is_approved_with_a_typed_response(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    response = gateway.charge("10.00", gateway.card_token(), invoice="INV-1001", ref_id="r-42")
    assert response.messages.resultCode.text == "Ok"
    assert response.messages.message[0].code.text == "I00001"
    assert response.refId.text == "r-42"
    tr = response.transactionResponse
    assert tr.responseCode.text == "1"
    assert tr.transId.text.isdigit() and tr.transId.text != "0"
    assert len(tr.authCode.text) == 6
    assert tr.accountNumber.text == "XXXX1111"
    assert tr.accountType.text == "Visa"
    assert tr.cvvResultCode.text == "M"
    assert tr.messages.message[0].code.text == "1"
    stored = sandbox.state.transactions[tr.transId.text]
    assert stored.amount == Decimal("10.00")
    assert stored.status == "capturedPendingSettlement"
    assert stored.invoice_number == "INV-1001"
    assert stored.submitted.tzinfo is not None


def test_billing_zip_46282_is_declined_with_response_code_2(gateway: Gateway) -> None:
    response = gateway.charge("15.00", card(), invoice="INV-ZIP", zip="46282")
    assert response.messages.resultCode.text == "Error"
    assert response.messages.message[0].code.text == "E00027"
    tr = response.transactionResponse
    assert tr.responseCode.text == "2"
    assert tr.errors.error[0].errorCode.text == "2"
    assert tr.errors.error[0].errorText.text == "This transaction has been declined."


def test_cvv_901_reports_a_mismatch_but_still_approves(gateway: Gateway) -> None:
    response = gateway.charge("5.00", card(MASTERCARD, code="901"), invoice="INV-CVV")
    assert response.transactionResponse.responseCode.text == "1"
    assert response.transactionResponse.cvvResultCode.text == "N"
    assert response.transactionResponse.accountType.text == "MasterCard"
    assert response.transactionResponse.accountNumber.text == "XXXX0015"


def test_a_duplicate_within_the_window_is_error_11_and_allowed_after_it(
    gateway: Gateway, clock: ManualClock
) -> None:
    first = gateway.charge("20.00", card(), invoice="INV-DUP")
    assert first.transactionResponse.responseCode.text == "1"
    again = gateway.charge("20.00", card(), invoice="INV-DUP")
    assert again.transactionResponse.responseCode.text == "3"
    assert again.transactionResponse.errors.error[0].errorCode.text == "11"
    assert again.transactionResponse.errors.error[0].errorText.text == (
        "A duplicate transaction has been submitted."
    )
    assert (
        gateway.charge("20.00", card(), invoice="INV-OTHER").transactionResponse.responseCode.text
        == "1"
    )
    clock.advance(121)
    later = gateway.charge("20.00", card(), invoice="INV-DUP")
    assert later.transactionResponse.responseCode.text == "1"


def test_an_explicit_duplicate_window_echoes_the_original_transaction(gateway: Gateway) -> None:
    first = gateway.charge("21.00", card(), invoice="INV-WIN", window=600)
    again = gateway.charge("21.00", card(), invoice="INV-WIN", window=600)
    assert again.transactionResponse.errors.error[0].errorCode.text == "11"
    assert again.transactionResponse.transId.text == first.transactionResponse.transId.text
    zero = gateway.charge("21.00", card(), invoice="INV-WIN", window=0)
    assert zero.transactionResponse.responseCode.text == "1"


def test_echeck_up_to_100_dollars_is_approved_and_above_is_declined(gateway: Gateway) -> None:
    approved = gateway.charge("100.00", bank(), invoice="INV-ACH-1")
    assert approved.transactionResponse.responseCode.text == "1"
    assert approved.transactionResponse.accountType.text == "eCheck"
    assert approved.transactionResponse.accountNumber.text == "XXXX6789"
    declined = gateway.charge("100.01", bank(), invoice="INV-ACH-2")
    assert declined.transactionResponse.responseCode.text == "2"


def test_a_tokenized_bank_account_pays_by_echeck(gateway: Gateway, sandbox: AnetSandbox) -> None:
    descriptor, value = sandbox.state.tokenize_bank("987654321")
    opaque = contracts.opaqueDataType(dataDescriptor=descriptor, dataValue=value)
    response = gateway.charge("42.00", payment(opaqueData=opaque), invoice="INV-ACH-3")
    assert response.transactionResponse.accountType.text == "eCheck"
    assert response.transactionResponse.accountNumber.text == "XXXX4321"


def test_invalid_credentials_get_e00007(sandbox: AnetSandbox) -> None:
    wrong = Gateway(sandbox, login="sandbox-login", key="not-the-key")
    response = wrong.charge("1.00", card(), invoice="INV-AUTH")
    assert response.messages.resultCode.text == "Error"
    assert response.messages.message[0].code.text == "E00007"
    assert sandbox.state.transactions == {}


def test_auth_only_then_prior_auth_capture_captures_the_authorization(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    auth = gateway.charge("30.00", card(), kind="authOnlyTransaction", invoice="INV-AUTH-1")
    trans_id = auth.transactionResponse.transId.text
    assert sandbox.state.transactions[trans_id].status == "authorizedPendingCapture"
    capture = gateway.charge("25.00", kind="priorAuthCaptureTransaction", ref_trans_id=trans_id)
    assert capture.transactionResponse.responseCode.text == "1"
    assert capture.transactionResponse.refTransID.text == trans_id
    assert sandbox.state.transactions[trans_id].status == "capturedPendingSettlement"
    assert sandbox.state.transactions[trans_id].settle_amount == Decimal("25.00")
    twice = gateway.charge(None, kind="priorAuthCaptureTransaction", ref_trans_id=trans_id)
    assert twice.transactionResponse.errors.error[0].errorCode.text == "311"


def test_an_invalid_card_number_is_error_6(gateway: Gateway) -> None:
    response = gateway.charge("3.00", card("4111111111111112"), invoice="INV-LUHN")
    assert response.transactionResponse.responseCode.text == "3"
    assert response.transactionResponse.errors.error[0].errorCode.text == "6"


def test_an_over_long_invoice_number_is_rejected_by_the_sdk_and_by_the_gateway(
    gateway: Gateway,
) -> None:
    with pytest.raises(pyxb.SimpleFacetValueError):
        gateway.transaction("3.00", card(), invoice="X" * 21)
    controller = apicontrollers.createTransactionController(
        gateway.transaction("3.00", card(), invoice="X" * 20)
    )
    raw = controller.buildrequest().replace(b"X" * 20, b"X" * 21)
    reply = requests.post(gateway.sandbox.api_url, data=raw, timeout=5)
    assert reply.status_code == 200
    assert reply.content.startswith(BOM)
    parsed = contracts.CreateFromDocument(reply.content[3:].decode("ascii"))
    assert parsed.messages.message[0].code == "E00003"
    assert gateway.sandbox.state.transactions == {}


def test_decline_next_and_hold_for_review_next_shape_the_next_charge(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    sandbox.state.faults.decline_next()
    declined = gateway.charge("7.00", card(), invoice="INV-F1")
    assert declined.transactionResponse.responseCode.text == "2"
    sandbox.state.faults.hold_for_review_next()
    held = gateway.charge("7.00", card(), invoice="INV-F2")
    assert held.messages.resultCode.text == "Ok"
    assert held.transactionResponse.responseCode.text == "4"
    assert held.transactionResponse.messages.message[0].code.text == "252"
    trans = sandbox.state.transactions[held.transactionResponse.transId.text]
    assert trans.status == "FDSPendingReview"
    assert (
        gateway.charge("7.00", card(), invoice="INV-F3").transactionResponse.responseCode.text
        == "1"
    )


def test_the_sdk_request_carries_the_amount_as_a_decimal(gateway: Gateway) -> None:
    controller = apicontrollers.createTransactionController(
        gateway.transaction("10.5", card(), invoice="INV-DEC")
    )
    assert b"<amount>10.5</amount>" in controller.buildrequest()
    response = gateway.call(controller)
    trans_id = response.transactionResponse.transId.text
    assert gateway.sandbox.state.transactions[trans_id].amount == Decimal("10.5")
