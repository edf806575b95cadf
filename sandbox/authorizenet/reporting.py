"""Transaction Reporting and merchant details: details, unsettled list, batches, batch lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lxml import etree

from . import models
from .models import Batch, Transaction
from .state import AnetState
from .wire import ApiError, Reply, Value, flag, format_local, format_utc, text

MAX_LIST = 1000
MAX_BATCH_RANGE = timedelta(days=31)
NO_RECORDS = ("I00004", "No records found.")


def _summary(trans: Transaction) -> list[tuple[str, Value]]:
    """transactionSummaryType children in schema order."""
    profile: list[tuple[str, Value]] | None = None
    if trans.profile_id:
        profile = [
            ("customerProfileId", trans.profile_id),
            ("customerPaymentProfileId", trans.payment_profile_id),
        ]
    return [
        ("transId", trans.trans_id),
        ("submitTimeUTC", format_utc(trans.submitted)),
        ("submitTimeLocal", format_local(trans.submitted)),
        ("transactionStatus", trans.status),
        ("invoiceNumber", trans.invoice_number),
        ("firstName", trans.bill_to.get("firstName")),
        ("lastName", trans.bill_to.get("lastName")),
        ("accountType", trans.account_type),
        ("accountNumber", trans.account_number),
        ("settleAmount", trans.settle_amount),
        ("marketType", "eCommerce"),
        ("product", "Card Not Present"),
        ("hasReturnedItems", False),
        ("profile", profile),
    ]


def _batch(
    batch: Batch, transactions: dict[str, Transaction], stats: bool
) -> list[tuple[str, Value]]:
    """batchDetailsType children in schema order."""
    return [
        ("batchId", batch.batch_id),
        ("settlementTimeUTC", format_utc(batch.settled)),
        ("settlementTimeLocal", format_local(batch.settled)),
        ("settlementState", batch.state),
        ("paymentMethod", batch.payment_method),
        ("marketType", "eCommerce"),
        ("product", "Card Not Present"),
        ("statistics", _statistics(batch, transactions) if stats else None),
    ]


def _statistics(batch: Batch, transactions: dict[str, Transaction]) -> list[tuple[str, Value]]:
    """One batchStatisticType per account type in the batch."""
    by_type: dict[str, list[Transaction]] = {}
    for trans_id in batch.trans_ids:
        trans = transactions[trans_id]
        by_type.setdefault(trans.account_type, []).append(trans)
    stats: list[tuple[str, Value]] = []
    for account_type, members in sorted(by_type.items()):
        charges = [t for t in members if t.status == models.SETTLED]
        refunds = [t for t in members if t.status == models.REFUND_SETTLED]
        stats.append(
            (
                "statistic",
                [
                    ("accountType", account_type),
                    ("chargeAmount", sum((t.settle_amount for t in charges), Decimal("0"))),
                    ("chargeCount", len(charges)),
                    ("refundAmount", sum((t.settle_amount for t in refunds), Decimal("0"))),
                    ("refundCount", len(refunds)),
                    ("voidCount", sum(t.status == models.VOIDED for t in members)),
                    ("declineCount", sum(t.status == models.DECLINED for t in members)),
                    ("errorCount", 0),
                ],
            )
        )
    return stats


def _sorted_page(root: etree._Element, items: list[Transaction]) -> list[Transaction]:
    """Apply optional sorting (id | submitTimeUTC) and paging (limit, 1-based offset)."""
    order_by = text(root, "sorting/orderBy")
    if order_by:
        descending = flag(root, "sorting/orderDescending")
        if order_by == "id":
            items = sorted(items, key=lambda t: int(t.trans_id), reverse=descending)
        else:
            items = sorted(items, key=lambda t: (t.submitted, int(t.trans_id)), reverse=descending)
    limit_text, offset_text = text(root, "paging/limit"), text(root, "paging/offset")
    if limit_text and offset_text:
        limit, offset = int(limit_text), int(offset_text)
        if not (1 <= limit <= MAX_LIST and offset >= 1):
            raise ApiError("E00104", "Paging Offset or Limit value is invalid.")
        items = items[(offset - 1) * limit : offset * limit]
    return items[:MAX_LIST]


def _list_reply(root: etree._Element, items: list[Transaction]) -> Reply:
    """transactions + totalNumInResultSet."""
    page = _sorted_page(root, items)
    if not page:
        # the gateway answers an empty list with I00004 and no transactions element
        return Reply(body=[("totalNumInResultSet", len(items))], messages=[NO_RECORDS])
    return Reply(
        body=[
            ("transactions", [("transaction", _summary(t)) for t in page]),
            ("totalNumInResultSet", len(items)),
        ]
    )


def get_unsettled_transaction_list(state: AnetState, root: etree._Element) -> Reply:
    """getUnsettledTransactionListRequest (status pendingApproval: held ones only)."""
    items = [t for t in state.transactions.values() if t.batch_id is None]
    if text(root, "status") == "pendingApproval":
        items = [t for t in items if t.status == models.HELD]
    return _list_reply(root, items)


def get_transaction_list(state: AnetState, root: etree._Element) -> Reply:
    """getTransactionListRequest for one batch."""
    batch = state.batches.get(text(root, "batchId") or "")
    if batch is None:
        raise ApiError("E00040", "The record cannot be found.")
    return _list_reply(root, [state.transactions[t] for t in batch.trans_ids])


def _parse_date(raw: str | None) -> datetime | None:
    """An xs:dateTime from the request (naive means UTC)."""
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError("E00003", f"The value '{raw}' is not a valid dateTime.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def get_settled_batch_list(state: AnetState, root: etree._Element) -> Reply:
    """getSettledBatchListRequest: batches settled in a range (default: the last 24 hours)."""
    now = state.now()
    first = _parse_date(text(root, "firstSettlementDate"))
    last = _parse_date(text(root, "lastSettlementDate")) or now
    first = first or last - timedelta(hours=24)
    if last - first > MAX_BATCH_RANGE:
        raise ApiError("E00013", "The date range cannot exceed 31 days.")
    stats = flag(root, "includeStatistics")
    batches = [b for b in state.batches.values() if first <= b.settled <= last]
    if not batches:
        return Reply(messages=[NO_RECORDS])
    return Reply(
        body=[("batchList", [("batch", _batch(b, state.transactions, stats)) for b in batches])]
    )


def get_transaction_details(state: AnetState, root: etree._Element) -> Reply:
    """getTransactionDetailsRequest."""
    trans = state.transactions.get(text(root, "transId") or "")
    if trans is None:
        raise ApiError("E00040", "The record cannot be found.")
    batch = state.batches.get(trans.batch_id or "")
    order = [("invoiceNumber", trans.invoice_number), ("description", trans.description)]
    has_order = trans.invoice_number or trans.description
    customer: list[tuple[str, Value]] = [("id", trans.customer_id), ("email", trans.customer_email)]
    bill_to: list[tuple[str, Value]] = [(k, v) for k, v in trans.bill_to.items()]
    profile: list[tuple[str, Value]] = [
        ("customerProfileId", trans.profile_id),
        ("customerPaymentProfileId", trans.payment_profile_id),
    ]
    details: list[tuple[str, Value]] = [
        ("transId", trans.trans_id),
        ("refTransId", trans.ref_trans_id),
        ("submitTimeUTC", format_utc(trans.submitted)),
        ("submitTimeLocal", format_local(trans.submitted)),
        ("transactionType", trans.transaction_type),
        ("transactionStatus", trans.status),
        ("responseCode", trans.response_code),
        ("responseReasonCode", trans.reason_code),
        ("responseReasonDescription", _reason_description(trans)),
        ("authCode", trans.auth_code or None),
        ("AVSResponse", trans.avs_code),
        ("cardCodeResponse", trans.cvv_code or None),
        ("FDSFilterAction", "hold" if trans.status == models.HELD else None),
        ("batch", _batch(batch, state.transactions, False) if batch else None),
        ("order", order if has_order else None),
        ("authAmount", trans.amount),
        ("settleAmount", trans.settle_amount),
        ("taxExempt", False),
        ("payment", [trans.method.payment_element()]),
        ("customer", customer if trans.customer_id or trans.customer_email else None),
        ("billTo", _ordered_address(bill_to) if bill_to else None),
        ("recurringBilling", False),
        ("product", "Card Not Present"),
        ("marketType", "eCommerce"),
        ("profile", profile if trans.profile_id else None),
    ]
    return Reply(body=[("transaction", details)])


def _ordered_address(items: list[tuple[str, Value]]) -> list[tuple[str, Value]]:
    """nameAndAddressType order."""
    order = ("firstName", "lastName", "company", "address", "city", "state", "zip", "country")
    values = dict(items)
    return [(k, values.get(k)) for k in order]


def _reason_description(trans: Transaction) -> str:
    """The short reason wording reporting uses."""
    return {1: "Approval", 2: "Decline", 4: "Held for review"}.get(trans.response_code, "Error")


def get_merchant_details(state: AnetState, root: etree._Element) -> Reply:
    """getMerchantDetailsRequest: processors, currencies, the public client key."""
    card_types = [("cardType", c) for c in ("V", "M", "A", "D", "J", "E")]
    return Reply(
        body=[
            ("isTestMode", False),
            ("processors", [("processor", [("name", "First Data Nashville"), ("id", 2),
                                           ("cardTypes", card_types)])]),
            ("merchantName", state.merchant_name),
            ("gatewayId", state.gateway_id),
            ("marketTypes", [("marketType", "eCommerce")]),
            ("productCodes", [("productCode", "CNP")]),
            ("paymentMethods", [("paymentMethod", m) for m in ("Visa", "MasterCard",
                                "AmericanExpress", "Discover", "JCB", "DinersClub", "Echeck")]),
            ("currencies", [("currency", "USD")]),
            ("publicClientKey", state.client_key),
        ]
    )  # fmt: skip
