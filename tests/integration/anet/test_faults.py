"""Fault injection: hangs before and after the charge, dropped replies, HTTP errors."""

from __future__ import annotations

import logging
import time

import pytest
import requests
from authorizenet import apicontrollers
from authorizenet.constants import constants

from sandbox.authorizenet import AnetSandbox
from tests.integration.anet.conftest import Gateway, card, first_message

CLIENT_TIMEOUT = 0.5


def post_with_timeout(gateway: Gateway, invoice: str) -> None:
    """Send SDK-built XML the way an adapter with a timeout would (the SDK has none)."""
    controller = apicontrollers.createTransactionController(
        gateway.transaction("25.00", card(), invoice=invoice)
    )
    requests.post(
        gateway.sandbox.api_url,
        data=controller.buildrequest(),
        headers=constants.headers,
        timeout=CLIENT_TIMEOUT,
    )


def find_unsettled(gateway: Gateway, invoice: str) -> list[str]:
    """transIds in getUnsettledTransactionList carrying an invoice number."""
    response = gateway.send("getUnsettledTransactionListRequest")
    if first_message(response)[0] == "I00004":
        return []
    return [
        t.transId.text
        for t in response.transactions.transaction
        if t.find("{*}invoiceNumber") is not None and t.invoiceNumber.text == invoice
    ]


def test_a_hang_before_the_charge_times_out_and_records_nothing(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    sandbox.state.faults.hang_next()  # until released; before_charge=True is the default
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        post_with_timeout(gateway, "INV-HANG-1")
    assert time.monotonic() - started < 3
    assert sandbox.state.transactions == {}
    sandbox.state.faults.release()  # the held request is dropped unprocessed
    assert find_unsettled(gateway, "INV-HANG-1") == []


def test_a_hang_after_the_charge_times_out_but_the_charge_is_recorded(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    sandbox.state.faults.hang_next(before_charge=False)
    with pytest.raises(requests.ReadTimeout):
        post_with_timeout(gateway, "INV-HANG-2")
    sandbox.state.faults.release()
    [trans_id] = find_unsettled(gateway, "INV-HANG-2")
    assert sandbox.state.transactions[trans_id].status == "capturedPendingSettlement"


def test_a_timed_hang_replies_late_with_the_recorded_charge(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    sandbox.state.faults.hang_after_charge(seconds=0.3)
    started = time.monotonic()
    response = gateway.charge("26.00", card(), invoice="INV-HANG-3")
    assert time.monotonic() - started >= 0.3
    assert response.transactionResponse.responseCode.text == "1"


def test_a_drop_after_the_charge_is_a_connection_error_but_the_charge_exists(
    gateway: Gateway, sandbox: AnetSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.state.faults.drop_after_charge()
    controller = apicontrollers.createTransactionController(
        gateway.transaction("27.00", card(), invoice="INV-DROP")
    )
    with caplog.at_level(logging.ERROR, logger="authorizenet.sdk"):
        assert gateway.run(controller) is None  # the SDK swallows the ConnectionError
    assert "ConnectionError" in caplog.text
    assert "4111111111111111" not in caplog.text
    assert len(find_unsettled(gateway, "INV-DROP")) == 1

    sandbox.state.faults.drop_after_charge()
    with pytest.raises(requests.ConnectionError):
        post_with_timeout(gateway, "INV-DROP-2")
    assert len(find_unsettled(gateway, "INV-DROP-2")) == 1


def test_fail_next_gives_an_http_error_the_sdk_turns_into_none(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    sandbox.state.faults.fail_next(count=2, status=503)
    controller = apicontrollers.createTransactionController(
        gateway.transaction("28.00", card(), invoice="INV-503")
    )
    assert gateway.run(controller) is None
    raw = requests.post(sandbox.api_url, data=b"<x/>", timeout=5)
    assert raw.status_code == 503
    assert sandbox.state.transactions == {}
    assert gateway.charge("28.00", card(), invoice="INV-503").messages.resultCode.text == "Ok"


def test_stopping_the_sandbox_releases_a_request_held_forever(sandbox: AnetSandbox) -> None:
    gateway = Gateway(sandbox)
    sandbox.state.faults.hang_next(before_charge=False)
    with pytest.raises(requests.ReadTimeout):
        post_with_timeout(gateway, "INV-HANG-4")
    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 3
