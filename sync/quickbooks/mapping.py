"""QuickBooks Online JSON objects ↔ our records; nothing from the SDK crosses this line."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sync.accounting import (
    AppliedLine,
    CreditMemoRecord,
    CustomerRecord,
    Entity,
    InvoiceLineRecord,
    InvoiceRecord,
    ItemRecord,
    PaymentRecord,
    Record,
)

Obj = dict[str, Any]
CENT = Decimal("0.01")
LINE_KINDS = ("SalesItemLineDetail", "DescriptionOnly")
# QuickBooks marks a voided invoice by zeroing it and writing this note.
VOID_NOTE = "Voided"


def money(value: Any) -> Decimal:
    """An amount as Decimal cents (absent means zero)."""
    if value is None or value == "":
        return Decimal("0.00")
    return Decimal(str(value)).quantize(CENT)


def number(value: Any) -> Decimal | None:
    """A quantity or price, exact, or None."""
    if value is None or value == "":
        return None
    return Decimal(str(value))


def day(value: Any) -> date | None:
    """A YYYY-MM-DD date, or None."""
    return date.fromisoformat(str(value)[:10]) if value else None


def txn_day(obj: Obj) -> date:
    """TxnDate, which every transaction has."""
    return date.fromisoformat(str(obj["TxnDate"])[:10])


def updated_at(obj: Obj) -> datetime | None:
    """MetaData.LastUpdatedTime (it carries the company's UTC offset)."""
    stamp = (obj.get("MetaData") or {}).get("LastUpdatedTime")
    return datetime.fromisoformat(stamp) if stamp else None


def ref(obj: Obj, key: str) -> str | None:
    """The value of a *Ref field."""
    value = (obj.get(key) or {}).get("value")
    return str(value) if value is not None else None


def _text(obj: Obj, key: str, inner: str) -> str | None:
    value = (obj.get(key) or {}).get(inner)
    return str(value) if value else None


# Our detail names → (QuickBooks field, the field inside it); one address each, and an
# address's parts are kept together (ADDRESS_PARTS).
ADDRESSES = {"bill": "BillAddr", "ship": "ShipAddr"}
ADDRESS_PARTS = {
    "line1": "Line1",
    "line2": "Line2",
    "city": "City",
    "region": "CountrySubDivisionCode",
    "postal_code": "PostalCode",
    "country": "Country",
}
PLAIN_DETAILS = {
    "display_name": ("DisplayName", None),
    "company_name": ("CompanyName", None),
    "email": ("PrimaryEmailAddr", "Address"),
    "phone": ("PrimaryPhone", "FreeFormNumber"),
}


def _part(address: Any, key: str) -> str | None:
    value = address.get(key) if isinstance(address, dict) else None
    return str(value) if value not in (None, "") else None


def customer(obj: Obj) -> CustomerRecord:
    """A Customer object."""
    bill = obj.get("BillAddr") or {}
    ship = obj.get("ShipAddr") or {}
    return CustomerRecord(
        id=str(obj["Id"]),
        sync_token=str(obj["SyncToken"]),
        display_name=str(obj.get("DisplayName") or ""),
        email=_text(obj, "PrimaryEmailAddr", "Address"),
        phone=_text(obj, "PrimaryPhone", "FreeFormNumber"),
        bill_line1=_part(bill, "Line1"),
        bill_city=_part(bill, "City"),
        bill_region=_part(bill, "CountrySubDivisionCode"),
        bill_postal_code=_part(bill, "PostalCode"),
        balance=money(obj.get("Balance")),
        parent_id=ref(obj, "ParentRef") if obj.get("Job") else None,
        bill_with_parent=bool(obj.get("Job") and obj.get("BillWithParent")),
        level=int(obj.get("Level") or 0),
        active=bool(obj.get("Active", True)),
        updated_at=updated_at(obj),
        company_name=str(obj["CompanyName"]) if obj.get("CompanyName") else None,
        bill_line2=_part(bill, "Line2"),
        bill_country=_part(bill, "Country"),
        ship_line1=_part(ship, "Line1"),
        ship_line2=_part(ship, "Line2"),
        ship_city=_part(ship, "City"),
        ship_region=_part(ship, "CountrySubDivisionCode"),
        ship_postal_code=_part(ship, "PostalCode"),
        ship_country=_part(ship, "Country"),
    )


def _invoice_lines(raw: Sequence[Obj]) -> tuple[InvoiceLineRecord, ...]:
    """Sales and description lines in order; the SubTotal line QuickBooks appends is not one."""
    kept = [line for line in raw if line.get("DetailType") in LINE_KINDS]
    lines = []
    for position, line in enumerate(kept, start=1):
        detail = line.get("SalesItemLineDetail") or {}
        lines.append(
            InvoiceLineRecord(
                position=position,
                amount=money(line.get("Amount")),
                line_id=str(line["Id"]) if line.get("Id") is not None else None,
                detail_type=str(line["DetailType"]),
                item_id=ref(detail, "ItemRef"),
                item_name=(detail.get("ItemRef") or {}).get("name"),
                description=line.get("Description"),
                qty=number(detail.get("Qty")),
                unit_price=number(detail.get("UnitPrice")),
            )
        )
    return tuple(lines)


def invoice(obj: Obj) -> InvoiceRecord:
    """An Invoice object."""
    total = money(obj.get("TotalAmt"))
    return InvoiceRecord(
        id=str(obj["Id"]),
        sync_token=str(obj["SyncToken"]),
        customer_id=ref(obj, "CustomerRef") or "",
        txn_date=txn_day(obj),
        total=total,
        balance=money(obj.get("Balance")),
        doc_number=obj.get("DocNumber"),
        due_date=day(obj.get("DueDate")),
        currency=ref(obj, "CurrencyRef") or "USD",
        email_status=obj.get("EmailStatus"),
        voided=total == 0 and obj.get("PrivateNote") == VOID_NOTE,
        lines=_invoice_lines(obj.get("Line") or []),
        updated_at=updated_at(obj),
        linked_payment_ids=tuple(
            str(link["TxnId"])
            for link in obj.get("LinkedTxn") or []
            if link.get("TxnType") == "Payment" and link.get("TxnId") is not None
        ),
    )


def _applied(raw: Sequence[Obj]) -> tuple[AppliedLine, ...]:
    """One applied line per linked transaction of each payment line."""
    return tuple(
        AppliedLine(str(link["TxnType"]), str(link["TxnId"]), money(line.get("Amount")))
        for line in raw
        for link in line.get("LinkedTxn") or []
    )


def payment(obj: Obj) -> PaymentRecord:
    """A Payment object."""
    return PaymentRecord(
        id=str(obj["Id"]),
        sync_token=str(obj["SyncToken"]),
        customer_id=ref(obj, "CustomerRef") or "",
        txn_date=txn_day(obj),
        total=money(obj.get("TotalAmt")),
        unapplied=money(obj.get("UnappliedAmt")),
        reference=obj.get("PaymentRefNum") or None,
        applied=_applied(obj.get("Line") or []),
        updated_at=updated_at(obj),
    )


def credit_memo(obj: Obj) -> CreditMemoRecord:
    """A CreditMemo object; what is left of it is RemainingCredit (Balance on older versions)."""
    left = obj.get("RemainingCredit", obj.get("Balance"))
    return CreditMemoRecord(
        id=str(obj["Id"]),
        sync_token=str(obj["SyncToken"]),
        customer_id=ref(obj, "CustomerRef") or "",
        txn_date=txn_day(obj),
        total=money(obj.get("TotalAmt")),
        balance=money(left),
        doc_number=obj.get("DocNumber"),
        updated_at=updated_at(obj),
    )


def item(obj: Obj) -> ItemRecord:
    """An Item object."""
    return ItemRecord(
        id=str(obj["Id"]),
        sync_token=str(obj["SyncToken"]),
        name=str(obj.get("Name") or ""),
        type=str(obj.get("Type") or "Service"),
        unit_price=number(obj.get("UnitPrice")),
        description=obj.get("Description"),
        active=bool(obj.get("Active", True)),
        updated_at=updated_at(obj),
    )


TO_RECORD: dict[Entity, Callable[[Obj], Record]] = {
    Entity.CUSTOMER: customer,
    Entity.INVOICE: invoice,
    Entity.PAYMENT: payment,
    Entity.CREDIT_MEMO: credit_memo,
    Entity.ITEM: item,
}


def record(entity: Entity, obj: Obj) -> Record:
    """Any mirrored entity's object as its record."""
    return TO_RECORD[entity](obj)


# --- request bodies ---------------------------------------------------------------------------


def amount(value: Decimal) -> str:
    """Money as python-quickbooks sends it: a decimal string, never a float."""
    return str(value.quantize(CENT))


def payment_body(
    customer_id: str,
    applied: Sequence[AppliedLine],
    total: Decimal,
    txn_date: date | None,
    reference: str | None = None,
    deposit_account_id: str | None = None,
    payment_method_id: str | None = None,
    note: str | None = None,
) -> Obj:
    """A Payment to create: one line per invoice or credit memo it is applied to."""
    body: Obj = {
        "CustomerRef": {"value": customer_id},
        "TotalAmt": amount(total),
        "Line": [
            {
                "Amount": amount(a.amount),
                "LinkedTxn": [{"TxnId": a.txn_id, "TxnType": a.txn_type}],
            }
            for a in applied
        ],
    }
    optional = {
        "TxnDate": txn_date.isoformat() if txn_date else None,
        "PaymentRefNum": reference,
        "DepositToAccountRef": {"value": deposit_account_id} if deposit_account_id else None,
        "PaymentMethodRef": {"value": payment_method_id} if payment_method_id else None,
        "PrivateNote": note,
    }
    body.update({k: v for k, v in optional.items() if v})
    return body


def batch_body(items: Sequence[tuple[str, Obj]]) -> Obj:
    """A batch request creating one Payment per (bId, body)."""
    return {
        "BatchItemRequest": [
            {"bId": bid, "operation": "create", "Payment": body} for bid, body in items
        ]
    }


def batch_answers(answers: Any) -> dict[str, Obj]:
    """The items of a BatchItemResponse by their bId."""
    if not isinstance(answers, list):
        raise TypeError("BatchItemResponse is not a list")
    return {str(a.get("bId")): a for a in answers if isinstance(a, dict)}


def sales_line(item_id: str, value: Decimal, description: str | None) -> Obj:
    """One SalesItemLineDetail line of quantity one."""
    detail = {"ItemRef": {"value": item_id}, "Qty": 1, "UnitPrice": amount(value)}
    line: Obj = {
        "Amount": amount(value),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": detail,
    }
    if description:
        line["Description"] = description
    return line


def with_line(invoice_obj: Obj, line: Obj) -> Obj:
    """The invoice for a full update with one more line (the SubTotal line is recomputed)."""
    body = {k: v for k, v in invoice_obj.items() if k not in ("MetaData", "time")}
    lines = invoice_obj.get("Line") or []
    kept = [ln for ln in lines if ln.get("DetailType") != "SubTotalLineDetail"]
    body["Line"] = [*kept, line]
    return body


def details_body(current: Obj, changes: Mapping[str, str | None]) -> Obj:
    """A sparse Customer update of only the changed details, on the SyncToken read. An address
    goes whole (what QuickBooks has, with our parts changed: its Id, other lines and
    coordinates kept), since a sparse update replaces the fields it is sent."""
    body: Obj = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True}
    for name, value in changes.items():
        text = (value or "").strip()
        if name in PLAIN_DETAILS:
            field, inner = PLAIN_DETAILS[name]
            body[field] = text if inner is None else {inner: text}
            continue
        which, _, part = name.partition("_")
        field = ADDRESSES[which]
        if field not in body:
            body[field] = dict(current.get(field) or {})
        if text:
            body[field][ADDRESS_PARTS[part]] = text
        else:
            body[field].pop(ADDRESS_PARTS[part], None)
    return body


def contact_body(current: Obj, email: str | None, phone: str | None) -> Obj:
    """A sparse Customer update of the e-mail address and phone (None leaves one as it is)."""
    body: Obj = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True}
    if email is not None:
        body["PrimaryEmailAddr"] = {"Address": email}
    if phone is not None:
        body["PrimaryPhone"] = {"FreeFormNumber": phone}
    return body
