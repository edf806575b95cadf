"""Reporting and settlement: unsettled list, settle(), batches, details, void and refund."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import requests
from authorizenet.constants import constants
from lxml import etree

from sandbox.authorizenet import AnetSandbox, ManualClock
from tests.integration.anet.conftest import (
    START,
    Gateway,
    card,
    contracts,
    first_message,
    refund_card,
    response_code,
)


def unsettled(gateway: Gateway) -> list[Any]:
    """Every transaction in getUnsettledTransactionList."""
    response = gateway.send("getUnsettledTransactionListRequest")
    if first_message(response)[0] == "I00004":  # No records found: no transactions element
        return []
    return list(response.transactions.transaction)


def test_merchant_details_give_the_public_client_key(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    response = gateway.send("getMerchantDetailsRequest")
    assert response.publicClientKey.text == sandbox.state.client_key
    assert response.merchantName.text == sandbox.state.merchant_name
    assert response.currencies.currency.text == "USD"
    assert response.processors.processor.name.text


def test_the_unsettled_list_finds_a_charge_by_invoice_number(gateway: Gateway) -> None:
    charged = gateway.charge("11.00", card(), invoice="INV-FIND")
    trans_id = charged.transactionResponse.transId.text
    found = [t for t in unsettled(gateway) if t.invoiceNumber.text == "INV-FIND"]
    assert [t.transId.text for t in found] == [trans_id]
    assert found[0].transactionStatus.text == "capturedPendingSettlement"
    assert Decimal(found[0].settleAmount.text) == Decimal("11.00")  # PyXB re-serializes: 11.0
    assert found[0].accountNumber.text == "XXXX1111"


def test_settle_moves_a_charge_into_a_batch_seen_by_every_report(
    gateway: Gateway, sandbox: AnetSandbox, clock: ManualClock
) -> None:
    charged = gateway.charge("12.34", card(), invoice="INV-SETTLE")
    trans_id = charged.transactionResponse.transId.text
    clock.advance(hours=1)
    [batch] = sandbox.state.settle()
    assert unsettled(gateway) == []

    batches = gateway.send(
        "getSettledBatchListRequest",
        includeStatistics=True,
        firstSettlementDate=START,
        lastSettlementDate=START + timedelta(days=1),
    )
    listed = batches.batchList.batch
    assert listed.batchId.text == batch.batch_id
    assert listed.settlementState.text == "settledSuccessfully"
    assert Decimal(listed.statistics.statistic.chargeAmount.text) == Decimal("12.34")
    assert listed.statistics.statistic.chargeCount.text == "1"

    members = gateway.send("getTransactionListRequest", batchId=batch.batch_id)
    assert [t.transId.text for t in members.transactions.transaction] == [trans_id]
    assert members.transactions.transaction.transactionStatus.text == "settledSuccessfully"

    details = gateway.send("getTransactionDetailsRequest", transId=trans_id).transaction
    assert details.transactionStatus.text == "settledSuccessfully"
    assert details.batch.batchId.text == batch.batch_id
    assert details.order.invoiceNumber.text == "INV-SETTLE"
    assert Decimal(details.authAmount.text) == Decimal("12.34")
    assert details.payment.creditCard.cardNumber.text == "XXXX1111"


def test_transaction_details_of_an_unknown_id_are_e00040(gateway: Gateway) -> None:
    response = gateway.call_error(
        gateway_controller(gateway, "getTransactionDetailsRequest", transId="123")
    )
    assert response.messages.message.code.text == "E00040"


def gateway_controller(gateway: Gateway, name: str, **fields: Any) -> Any:
    """The SDK controller for a request built by the gateway helper."""
    from authorizenet import apicontrollers

    return getattr(apicontrollers, name.removesuffix("Request") + "Controller")(
        gateway.request(name, **fields)
    )


def test_the_daily_cutoff_settles_automatically_when_the_clock_passes_it(
    gateway: Gateway, sandbox: AnetSandbox, clock: ManualClock
) -> None:
    gateway.charge("13.00", card(), invoice="INV-CUTOFF")
    clock.advance(hours=12)  # 17:00 -> 05:00 the next day, past the 03:00 UTC cut-off
    assert unsettled(gateway) == []
    [batch] = sandbox.state.batches.values()
    assert batch.settled == START.replace(hour=3) + timedelta(days=1)


def test_void_works_before_settlement_but_not_after(gateway: Gateway, sandbox: AnetSandbox) -> None:
    first = gateway.charge("14.00", card(), invoice="INV-VOID-1").transactionResponse.transId.text
    voided = gateway.charge(None, kind="voidTransaction", ref_trans_id=first)
    assert response_code(voided) == "1"
    assert sandbox.state.transactions[first].status == "voided"
    second = gateway.charge("15.00", card(), invoice="INV-VOID-2").transactionResponse.transId.text
    sandbox.state.settle()
    late = gateway.charge(None, kind="voidTransaction", ref_trans_id=second)
    assert response_code(late) == "3"
    assert sandbox.state.transactions[second].status == "settledSuccessfully"
    assert sandbox.state.transactions[first].status == "voided"  # batched, still voided


def test_refund_is_error_54_before_settlement_and_approved_after(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    trans_id = gateway.charge("16.00", card(), invoice="INV-REF").transactionResponse.transId.text
    early = gateway.charge("16.00", refund_card(), kind="refundTransaction", ref_trans_id=trans_id)
    assert response_code(early) == "3"
    assert early.transactionResponse.errors.error[0].errorCode.text == "54"
    sandbox.state.settle()
    wrong_card = gateway.charge(
        "16.00", refund_card("0015"), kind="refundTransaction", ref_trans_id=trans_id
    )
    assert wrong_card.transactionResponse.errors.error[0].errorCode.text == "54"
    refunded = gateway.charge(
        "6.00", refund_card(), kind="refundTransaction", ref_trans_id=trans_id
    )
    tr = refunded.transactionResponse
    assert tr.responseCode.text == "1"
    assert tr.refTransID.text == trans_id
    refund = sandbox.state.transactions[tr.transId.text]
    assert (refund.status, refund.ref_trans_id) == ("refundPendingSettlement", trans_id)
    too_much = gateway.charge(
        "10.01", refund_card(), kind="refundTransaction", ref_trans_id=trans_id
    )
    assert too_much.transactionResponse.errors.error[0].errorCode.text == "55"
    sandbox.state.settle()
    assert refund.status == "refundSettledSuccessfully"


def test_transaction_details_include_the_billing_address_and_customer(gateway: Gateway) -> None:
    charged = gateway.charge(
        "17.00", card(), invoice="INV-BILL", zip="98004", customer_id="C-9", email="c9@example.com"
    )
    trans_id = charged.transactionResponse.transId.text
    details = gateway.send("getTransactionDetailsRequest", transId=trans_id).transaction
    assert details.billTo.zip.text == "98004"
    assert details.customer.id.text == "C-9"
    assert details.transactionStatus.text == "capturedPendingSettlement"


def test_paging_and_sorting_the_unsettled_list(gateway: Gateway) -> None:
    ids = [
        gateway.charge(
            f"{20 + n}.00", card(), invoice=f"INV-PG-{n}"
        ).transactionResponse.transId.text
        for n in range(3)
    ]
    sorting = contracts.TransactionListSorting(orderBy="id", orderDescending=True)
    paging = contracts.Paging(limit=2, offset=1)
    page = gateway.send("getUnsettledTransactionListRequest", sorting=sorting, paging=paging)
    assert [t.transId.text for t in page.transactions.transaction] == ids[::-1][:2]
    assert page.totalNumInResultSet.text == "3"


def test_declined_transactions_are_listed_unsettled_and_then_in_their_batch(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    declined = gateway.charge("18.00", card(), invoice="INV-DECL", zip="46282")
    assert response_code(declined) == "2"
    [listed] = [t for t in unsettled(gateway) if t.invoiceNumber.text == "INV-DECL"]
    assert listed.transactionStatus.text == "declined"
    assert Decimal(listed.settleAmount.text) == 0  # nothing was taken
    [batch] = sandbox.state.settle()
    members = gateway.send("getTransactionListRequest", batchId=batch.batch_id)
    assert members.transactions.transaction.transactionStatus.text == "declined"


def test_paging_by_id_walks_a_long_list_page_by_page(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    seeded = [sandbox.state.seed_charge(Decimal("1.00"), f"S{n}").trans_id for n in range(25)]
    sorting = contracts.TransactionListSorting(orderBy="id", orderDescending=False)
    pages = []
    for offset in (1, 2, 3, 4):
        paging = contracts.Paging(limit=10, offset=offset)
        pages.append(
            gateway.send("getUnsettledTransactionListRequest", sorting=sorting, paging=paging)
        )
    assert [p.totalNumInResultSet.text for p in pages] == ["25"] * 4
    listed = [t.transId.text for p in pages[:3] for t in p.transactions.transaction]
    assert listed == seeded
    assert first_message(pages[3])[0] == "I00004"  # past the end: no records


def test_without_paging_the_unsettled_list_stops_at_a_thousand(
    gateway: Gateway, sandbox: AnetSandbox
) -> None:
    for n in range(1_001):
        sandbox.state.seed_charge(Decimal("1.00"), f"S{n}")
    controller = gateway_controller(gateway, "getUnsettledTransactionListRequest")
    raw = requests.post(
        sandbox.api_url, data=controller.buildrequest(), headers=constants.headers, timeout=10
    ).content
    root = etree.fromstring(raw.removeprefix(b"\xef\xbb\xbf"))  # PyXB takes minutes on 1,000
    assert len(root.findall("{*}transactions/{*}transaction")) == 1000
    assert root.findtext("{*}totalNumInResultSet") == "1001"
