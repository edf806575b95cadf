"""Per-entity validation and normalization: what QBO fills in, computes and refuses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .faults import (
    QboFault,
    business_rule,
    duplicate_name,
    invalid_reference,
    invalid_request,
    required,
    too_long,
    unsupported,
)
from .ledger import Target, customer_of
from .store import Company
from .util import ZERO, money, to_bool, to_decimal

logger = logging.getLogger(__name__)

USD = {"value": "USD", "name": "United States Dollar"}
DELETED_SUFFIX = " (deleted)"
ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset",
    "Accounts Receivable": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Other Income": "Revenue",
    "Cost of Goods Sold": "Expense",
    "Expense": "Expense",
    "Other Expense": "Expense",
}

Obj = dict[str, Any]


def number(value: Any, element: str) -> Decimal | None:
    """Parse a numeric field or raise a validation fault naming it."""
    try:
        return to_decimal(value)
    except ValueError as exc:
        raise invalid_request(f"{element} is not a valid number: {value!r}", element) from exc


def check_date(value: Any, element: str) -> str:
    """Validate a YYYY-MM-DD date field."""
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError as exc:
        raise invalid_request(f"{element} is not a valid date: {value!r}", element) from exc


def _unique_name(company: Company, entity: str, name: str, own_id: str | None) -> None:
    """Raise 6240 when another row of the entity already uses the name."""
    holder = company.find_name(entity, name)
    if holder is not None and holder != own_id:
        raise duplicate_name(name)


def _active_name(name: str, active: bool) -> str:
    """QBO renames inactive name-list rows to 'Name (deleted)'."""
    base = name.removesuffix(DELETED_SUFFIX)
    return base if active else base + DELETED_SUFFIX


def _ref(company: Company, entity: str, ref: Any, name_field: str) -> Obj:
    """Resolve a {value} reference to an active row, or raise 2500."""
    value = str(ref.get("value", "")) if isinstance(ref, dict) else str(ref or "")
    row = company.get(entity, value)
    if row is None or not to_bool(row.get("Active"), True):
        raise invalid_reference(entity, value)
    return {"value": row["Id"], "name": row[name_field]}


# Intuit's limits for a Customer's text fields, and for each part of an address.
CUSTOMER_LENGTHS = {"DisplayName": 500, "CompanyName": 100, "PrintOnCheckName": 110}
INNER_LENGTHS = {"PrimaryEmailAddr": ("Address", 100), "PrimaryPhone": ("FreeFormNumber", 30)}
ADDRESS_LENGTHS = {"City": 255, "Country": 255, "CountrySubDivisionCode": 255, "PostalCode": 30}
ADDRESS_LINE_LENGTH = 500


def _check_lengths(obj: Obj) -> None:
    """Refuse (2050) a Customer text field longer than QuickBooks takes."""
    limits: dict[str, tuple[Any, int]] = {k: (obj.get(k), n) for k, n in CUSTOMER_LENGTHS.items()}
    for key, (inner, n) in INNER_LENGTHS.items():
        limits[f"{key}.{inner}"] = ((obj.get(key) or {}).get(inner), n)
    for key in ("BillAddr", "ShipAddr"):
        address = obj.get(key) or {}
        for part, value in address.items():
            most = ADDRESS_LINE_LENGTH if part.startswith("Line") else ADDRESS_LENGTHS.get(part)
            if most is not None:
                limits[f"{key}.{part}"] = (value, most)
    for element, (value, n) in limits.items():
        if value is not None and len(str(value)) > n:
            raise too_long(element, n)


def customer(company: Company, obj: Obj, current: Obj | None) -> Obj:
    """Customer: DisplayName derived and unique, Balance read-only."""
    name = str(obj.get("DisplayName") or "").strip()
    if not name:
        parts = [obj.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName")]
        name = " ".join(str(p).strip() for p in parts if p) or str(obj.get("CompanyName") or "")
    if not name.strip():
        raise required("DisplayName")
    _check_lengths(obj)
    active = to_bool(obj.get("Active"), True)
    display = _active_name(name.strip(), active)
    _unique_name(company, "Customer", display, obj.get("Id"))
    email = (obj.get("PrimaryEmailAddr") or {}).get("Address")
    if email is not None and "@" not in str(email):
        raise invalid_request(f"Invalid email address: {email}", "PrimaryEmailAddr")
    obj.update(DisplayName=display, Active=active, CurrencyRef=USD)
    _hierarchy(company, obj, display)
    obj.setdefault("PrintOnCheckName", display.removesuffix(DELETED_SUFFIX))
    obj.setdefault("Taxable", False)
    obj.setdefault("PreferredDeliveryMethod", "Print")
    obj["Balance"] = current["Balance"] if current else ZERO
    obj["BalanceWithJobs"] = obj["Balance"]
    return obj


MAX_LEVEL = 4  # a top-level customer and four levels of sub-customers below it


def _hierarchy(company: Company, obj: Obj, display: str) -> None:
    """Sub-customer fields: Job goes with a ParentRef (QBO refuses one without the other);
    Level and FullyQualifiedName ("Parent:Child") are derived from the parent; BillWithParent
    only means something on a sub-customer."""
    job = to_bool(obj.get("Job"), False)
    parent_ref = obj.get("ParentRef")
    if job != bool(parent_ref):
        raise invalid_request(
            "ParentRef is either required or not if Job is true or false.", "ParentRef"
        )
    if not job:
        obj.update(Job=False, BillWithParent=False, Level=0, FullyQualifiedName=display)
        obj.pop("ParentRef", None)
        return
    obj["ParentRef"] = _ref(company, "Customer", parent_ref, "DisplayName")
    parent = company.rows["Customer"][obj["ParentRef"]["value"]]
    chain = [parent["Id"], *company.ledger.ancestors(parent["Id"])]
    if obj.get("Id") is not None and str(obj["Id"]) in chain:
        raise business_rule("A customer cannot be a sub-customer of itself or of its own jobs.")
    level = int(parent.get("Level") or 0) + 1
    if level > MAX_LEVEL:
        raise business_rule(f"Sub-customers can be nested at most {MAX_LEVEL} levels deep.")
    obj.update(
        Job=True,
        BillWithParent=to_bool(obj.get("BillWithParent"), False),
        Level=level,
        FullyQualifiedName=f"{parent['FullyQualifiedName']}:{display}",
    )


def billed_through(company: Company, customer_id: str | None, payer_id: str) -> bool:
    """Whether a customer's transactions are the payer's to settle: its own, or those of a
    sub-customer billed with its parent, all the way up to the payer (QBO's Receive Payment
    for a parent lists those invoices; one not billed with the parent is its own account)."""
    seen: set[str] = set()
    while customer_id is not None and customer_id not in seen:
        if customer_id == payer_id:
            return True
        seen.add(customer_id)
        row = company.rows["Customer"].get(customer_id) or {}
        if not to_bool(row.get("BillWithParent"), False):
            return False
        customer_id = company.ledger.parent.get(customer_id)
    return False


def item(company: Company, obj: Obj, current: Obj | None) -> Obj:
    """Item: unique Name, Service/NonInventory, an income account."""
    name = str(obj.get("Name") or "").strip()
    if not name:
        raise required("Name")
    kind = obj.get("Type") or "Service"
    if kind not in ("Service", "NonInventory"):
        raise unsupported(f"Item Type {kind!r} is not supported by the sandbox")
    active = to_bool(obj.get("Active"), True)
    name = _active_name(name, active)
    _unique_name(company, "Item", name, obj.get("Id"))
    if not obj.get("IncomeAccountRef"):
        raise required("IncomeAccountRef")
    obj["IncomeAccountRef"] = _ref(company, "Account", obj["IncomeAccountRef"], "Name")
    price = number(obj.get("UnitPrice"), "UnitPrice")
    obj.update(Name=name, FullyQualifiedName=name, Type=kind, Active=active)
    obj["UnitPrice"] = price if price is not None else ZERO
    obj.setdefault("Taxable", False)
    return obj


def account(company: Company, obj: Obj, current: Obj | None) -> Obj:
    """Account: unique Name, a known AccountType."""
    name = str(obj.get("Name") or "").strip()
    if not name:
        raise required("Name")
    kind = obj.get("AccountType")
    if kind not in ACCOUNT_CLASSIFICATION:
        raise invalid_request(f"Invalid AccountType: {kind!r}", "AccountType")
    active = to_bool(obj.get("Active"), True)
    _unique_name(company, "Account", name, obj.get("Id"))
    obj.update(Name=name, FullyQualifiedName=name, Active=active, CurrencyRef=USD)
    obj["Classification"] = ACCOUNT_CLASSIFICATION[kind]
    obj["CurrentBalance"] = current.get("CurrentBalance", ZERO) if current else ZERO
    obj.setdefault("SubAccount", False)
    return obj


def payment_method(company: Company, obj: Obj, current: Obj | None) -> Obj:
    """PaymentMethod: unique Name, CREDIT_CARD or NON_CREDIT_CARD."""
    name = str(obj.get("Name") or "").strip()
    if not name:
        raise required("Name")
    _unique_name(company, "PaymentMethod", name, obj.get("Id"))
    kind = obj.get("Type") or "NON_CREDIT_CARD"
    if kind not in ("CREDIT_CARD", "NON_CREDIT_CARD"):
        raise invalid_request(f"Invalid PaymentMethod Type: {kind!r}", "Type")
    obj.update(Name=name, Type=kind, Active=to_bool(obj.get("Active"), True))
    return obj


def _customer_ref(company: Company, obj: Obj) -> Obj:
    """Resolve CustomerRef on a transaction."""
    if not obj.get("CustomerRef"):
        raise required("CustomerRef")
    ref = _ref(company, "Customer", obj["CustomerRef"], "DisplayName")
    obj["CustomerRef"] = ref
    return company.rows["Customer"][ref["value"]]


def _item_line(company: Company, line: Obj) -> Obj:
    """A SalesItemLineDetail line: Amount = Qty * UnitPrice when both are given."""
    detail = dict(line.get("SalesItemLineDetail") or {})
    ref = detail.get("ItemRef") or {"value": company.find_name("Item", "Services") or ""}
    detail["ItemRef"] = _ref(company, "Item", ref, "Name")
    item_row = company.rows["Item"][detail["ItemRef"]["value"]]
    qty = number(detail.get("Qty"), "Line.SalesItemLineDetail.Qty")
    price = number(detail.get("UnitPrice"), "Line.SalesItemLineDetail.UnitPrice")
    amount = number(line.get("Amount"), "Line.Amount")
    if qty and price:
        amount = money(qty * price)
    elif amount is None and qty:
        price = Decimal(item_row.get("UnitPrice") or 0)
        amount = money(qty * price)
    elif amount is None:
        raise required("Line.Amount")
    elif not qty and not price:
        qty, price = Decimal(1), amount
    elif qty and not price:
        price = amount / qty
    detail.update(Qty=qty, UnitPrice=price)
    detail["ItemAccountRef"] = item_row.get("IncomeAccountRef")
    detail.setdefault("TaxCodeRef", {"value": "NON"})
    out = {"Amount": money(amount), "DetailType": "SalesItemLineDetail"}
    if line.get("Description"):
        out["Description"] = str(line["Description"])
    out["SalesItemLineDetail"] = detail
    return out


def _sales_lines(company: Company, raw: Any) -> list[Obj]:
    """Validate sales-form lines; drop any SubTotal line (it is recomputed)."""
    if raw is not None and not isinstance(raw, list):
        raise invalid_request("Line must be a list", "Line")
    lines: list[Obj] = []
    for line in raw or []:
        kind = line.get("DetailType") if isinstance(line, dict) else None
        if kind == "SubTotalLineDetail":
            continue
        if kind == "SalesItemLineDetail":
            lines.append(_item_line(company, line))
        elif kind == "DescriptionOnly":
            lines.append(
                {
                    "Description": str(line.get("Description") or ""),
                    "DetailType": "DescriptionOnly",
                    "DescriptionLineDetail": line.get("DescriptionLineDetail") or {},
                }
            )
        else:
            raise unsupported(f"Line DetailType {kind!r} is not supported by the sandbox")
    for number_, line in enumerate(lines, start=1):
        line["Id"] = str(number_)
        line["LineNum"] = number_
    return lines


def sales_form(entity: str) -> Callable[[Company, Obj, Obj | None], Obj]:
    """Invoice/CreditMemo: TotalAmt from the lines, SubTotal line, DocNumber, dates."""

    def normalize(company: Company, obj: Obj, current: Obj | None) -> Obj:
        cust = _customer_ref(company, obj)
        lines = _sales_lines(company, obj.get("Line"))
        if not any(line["DetailType"] == "SalesItemLineDetail" for line in lines):
            raise required("Line")
        total = money(sum((line.get("Amount", ZERO) for line in lines), ZERO))
        lines.append(
            {"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
        )
        obj.update(Line=lines, TotalAmt=total, HomeTotalAmt=total, CurrencyRef=USD)
        if not obj.get("DocNumber"):
            obj["DocNumber"] = current["DocNumber"] if current else company.next_doc_number(entity)
        obj["TxnDate"] = check_date(obj.get("TxnDate") or company.today(), "TxnDate")
        obj.setdefault("PrintStatus", "NotSet")
        obj.setdefault("EmailStatus", "NotSet")
        email = (cust.get("PrimaryEmailAddr") or {}).get("Address")
        if email and not obj.get("BillEmail"):
            obj["BillEmail"] = {"Address": email}
        if cust.get("BillAddr") and not obj.get("BillAddr"):
            obj["BillAddr"] = dict(cust["BillAddr"])
        if entity == "Invoice":
            due = (
                obj.get("DueDate")
                or (date.fromisoformat(obj["TxnDate"]) + timedelta(days=30)).isoformat()
            )
            obj["DueDate"] = check_date(due, "DueDate")
            obj["Balance"] = current["Balance"] if current else total
            obj["LinkedTxn"] = current.get("LinkedTxn", []) if current else []
        else:
            obj["Balance"] = obj["RemainingCredit"] = current["Balance"] if current else total
        return obj

    return normalize


def _payment_line(company: Company, raw: Any, customer_id: str) -> tuple[Target, Obj]:
    """One payment line linking exactly one open Invoice or CreditMemo of the customer."""
    if not isinstance(raw, dict):
        raise invalid_request("Line entries must be objects", "Line")
    amount = number(raw.get("Amount"), "Line.Amount")
    if amount is None:
        raise required("Line.Amount")
    if amount <= 0:
        raise business_rule("A payment line amount must be greater than zero.")
    links = raw.get("LinkedTxn") or []
    if len(links) != 1 or not isinstance(links[0], dict):
        raise business_rule("Each payment line must link exactly one Invoice or CreditMemo.")
    kind, txn_id = str(links[0].get("TxnType", "")), str(links[0].get("TxnId", ""))
    if kind not in ("Invoice", "CreditMemo"):
        raise unsupported(f"Payments cannot be linked to {kind or 'nothing'} in the sandbox")
    linked = company.get(kind, txn_id)
    if linked is None or (kind, txn_id) in company.voided:
        raise invalid_reference(kind, txn_id)
    if not billed_through(company, customer_of(linked), customer_id):
        raise business_rule(
            f"{kind} {txn_id} belongs to another customer (a sub-customer's transactions "
            "can be paid by its parent only when it is billed with the parent)."
        )
    line = {"Amount": money(amount), "LinkedTxn": [{"TxnId": txn_id, "TxnType": kind}]}
    return (kind, txn_id), line


def payment(company: Company, obj: Obj, current: Obj | None) -> Obj:
    """Payment: lines within each linked balance, UnappliedAmt = TotalAmt - net applied."""
    cust = _customer_ref(company, obj)
    total = number(obj.get("TotalAmt"), "TotalAmt")
    if total is None:
        raise required("TotalAmt")
    if total < 0:
        raise business_rule("A payment's TotalAmt cannot be negative.")
    raw_lines = obj.get("Line") or []
    if not isinstance(raw_lines, list):
        raise invalid_request("Line must be a list", "Line")
    lines: list[Obj] = []
    per_target: dict[Target, Decimal] = {}
    net = ZERO
    for raw in raw_lines:
        target, line = _payment_line(company, raw, cust["Id"])
        lines.append(line)
        per_target[target] = per_target.get(target, ZERO) + line["Amount"]
        net += line["Amount"] if target[0] == "Invoice" else -line["Amount"]
    for target, amount in per_target.items():
        linked_total = Decimal(company.rows[target[0]][target[1]].get("TotalAmt") or 0)
        available = linked_total - company.ledger.applied_total(target, obj.get("Id"))
        if amount > available:
            raise business_rule(
                f"The amount applied to {target[0]} {target[1]} ({amount}) is more than "
                f"its open balance ({available})."
            )
    if net < 0 or net > total:
        raise business_rule("The payment lines do not add up to the payment's TotalAmt.")
    obj.update(Line=lines, TotalAmt=money(total), UnappliedAmt=money(total - net))
    undeposited = company.find_name("Account", "Undeposited Funds") or ""
    obj["DepositToAccountRef"] = _ref(
        company, "Account", obj.get("DepositToAccountRef") or {"value": undeposited}, "Name"
    )
    if obj.get("PaymentMethodRef"):
        obj["PaymentMethodRef"] = _ref(company, "PaymentMethod", obj["PaymentMethodRef"], "Name")
    obj["TxnDate"] = check_date(obj.get("TxnDate") or company.today(), "TxnDate")
    obj.update(ProcessPayment=False, CurrencyRef=USD)
    return obj


NORMALIZERS: dict[str, Callable[[Company, Obj, Obj | None], Obj]] = {
    "Customer": customer,
    "Item": item,
    "Account": account,
    "PaymentMethod": payment_method,
    "Invoice": sales_form("Invoice"),
    "CreditMemo": sales_form("CreditMemo"),
    "Payment": payment,
}


def normalize(company: Company, entity: str, obj: Obj, current: Obj | None) -> Obj:
    """Validate and complete an entity body; raises QboFault."""
    try:
        return NORMALIZERS[entity](company, obj, current)
    except (AttributeError, TypeError, KeyError) as exc:
        # a wrongly shaped body (a string where an object belongs, ...) is the caller's error;
        # log the traceback too, in case it is the sandbox's own mistake
        logger.info("malformed %s body", entity, exc_info=True)
        raise invalid_request(f"Malformed {entity}: {exc}") from exc


__all__ = ["NORMALIZERS", "QboFault", "normalize"]
