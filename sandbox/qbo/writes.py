"""Create, full/sparse update, delete and void: SyncToken checks and balance re-derivation."""

from __future__ import annotations

import copy
import logging
from decimal import Decimal
from typing import Any

from .entities import normalize
from .faults import business_rule, invalid_request, required, stale_object, unsupported
from .ledger import Target, derive, derive_order, with_owners
from .store import NAME_FIELDS, Company
from .util import ZERO, money, to_bool

logger = logging.getLogger(__name__)

Obj = dict[str, Any]

READ_ONLY = frozenset(
    {"SyncToken", "MetaData", "domain", "sparse", "time", "status", "FullyQualifiedName"}
    | {"Balance", "BalanceWithJobs", "HomeBalance", "RemainingCredit", "UnappliedAmt"}
    | {"CurrentBalance", "CurrentBalanceWithSubAccounts", "Level", "HomeTotalAmt"}
)
READ_ONLY_EXTRA = {"Invoice": {"TotalAmt", "LinkedTxn"}, "CreditMemo": {"TotalAmt", "LinkedTxn"}}


def strip_empty(value: Any) -> Any:
    """Drop None and "" recursively: python-quickbooks sends "" for every unset field."""
    if isinstance(value, dict):
        return {k: strip_empty(v) for k, v in value.items() if v is not None and v != ""}
    if isinstance(value, list):
        return [strip_empty(v) for v in value]
    return value


def clean_input(entity: str, payload: Obj) -> Obj:
    """The writable part of a request body."""
    skip = READ_ONLY | READ_ONLY_EXTRA.get(entity, set())
    return {k: v for k, v in strip_empty(payload).items() if k not in skip}


def check_sync_token(entity: str, current: Obj, payload: Obj) -> None:
    """Refuse a write whose SyncToken is missing (2020) or not the current one (5010)."""
    token = payload.get("SyncToken")
    if token is None or token == "":
        raise required("SyncToken")
    if str(token).strip() != current["SyncToken"]:
        raise stale_object(entity, current["Id"])


def settle(company: Company, affected: set[Target], primary: Target | None = None) -> None:
    """Re-derive balances; rows other than the one being written get a new SyncToken."""
    affected = with_owners(company.rows, company.ledger, affected)
    for target in sorted(affected, key=derive_order(company.ledger)):
        if derive(company.rows, company.ledger, company.voided, target) and target != primary:
            company.stamp(target[0], company.rows[target[0]][target[1]], "Update")


def save(
    company: Company, entity: str, payload: Any, operation: str | None, include: str | None
) -> Obj:
    """Dispatch a POST /<entity> by its operation/include parameters."""
    if not isinstance(payload, dict):
        raise invalid_request(f"The request body must be a {entity} object")
    if operation == "delete":
        return delete(company, entity, payload)
    if operation == "void" or include == "void":
        return void(company, entity, payload)
    if operation not in (None, "", "create", "update"):
        raise unsupported(f"Operation {operation!r} is not supported")
    if payload.get("Id") in (None, "", 0, "0"):
        return create(company, entity, payload)
    return update(company, entity, payload)


def create(company: Company, entity: str, payload: Obj) -> Obj:
    """Create a row."""
    obj = clean_input(entity, payload)
    obj.pop("Id", None)
    stored = normalize(company, entity, obj, None)
    stored["Id"] = company.new_id(entity)
    company.stamp(entity, stored, "Create")
    affected = company.ledger.attach(entity, stored)
    if entity == "Customer":
        affected.add(("Customer", stored["Id"]))
    settle(company, affected, (entity, stored["Id"]))
    return stored


def update(company: Company, entity: str, payload: Obj) -> Obj:
    """Full update (replace) or sparse update (merge top-level fields)."""
    current = company.require(entity, payload["Id"])
    check_sync_token(entity, current, payload)
    target = (entity, current["Id"])
    if target in company.voided:
        raise business_rule(f"{entity} {current['Id']} is voided and cannot be changed.")
    fresh = clean_input(entity, payload)
    if to_bool(payload.get("sparse"), False):
        merged = copy.deepcopy(current)
        merged.update(fresh)
    else:
        merged = fresh
    merged["Id"] = current["Id"]
    stored = normalize(company, entity, merged, current)
    if entity in ("Invoice", "CreditMemo"):
        applied = company.ledger.applied_total(target)
        if applied and stored["CustomerRef"]["value"] != current["CustomerRef"]["value"]:
            raise business_rule("A transaction with payments applied cannot change customer.")
        if Decimal(stored["TotalAmt"]) < applied:
            raise business_rule(f"The new total is less than the {applied} already applied.")
    stored.update(SyncToken=current["SyncToken"], MetaData=dict(current["MetaData"]))
    affected = company.ledger.detach(entity, current)
    company.stamp(entity, stored, "Update")
    affected |= company.ledger.attach(entity, stored)
    if entity == "Customer":
        affected.add(target)
        if stored["FullyQualifiedName"] != current.get("FullyQualifiedName"):
            _rename_jobs(company, stored)
    settle(company, affected, target)
    return stored


def _rename_jobs(company: Company, parent: Obj) -> None:
    """A renamed (or moved) customer's sub-customers get their new FullyQualifiedName and
    Level ("Parent:Child" all the way down), each a change of its own, as QuickBooks does."""
    for child_id in sorted(company.ledger.children.get(parent["Id"], ()), key=int):
        child = company.rows["Customer"][child_id]
        name = f"{parent['FullyQualifiedName']}:{child['DisplayName']}"
        child["ParentRef"] = {"value": parent["Id"], "name": parent["DisplayName"]}
        child.update(FullyQualifiedName=name, Level=int(parent.get("Level") or 0) + 1)
        company.stamp("Customer", child, "Update")
        _rename_jobs(company, child)


def delete(company: Company, entity: str, payload: Obj) -> Obj:
    """Delete a transaction; name-list rows can only be made inactive."""
    if entity in NAME_FIELDS:
        raise unsupported(f"Operation Delete is not supported for {entity}; set Active=false")
    current = company.require(entity, payload.get("Id"))
    check_sync_token(entity, current, payload)
    target = (entity, current["Id"])
    affected = unlink_payments(company, target)
    affected |= company.ledger.detach(entity, current)
    result = company.delete(entity, current)
    company.voided.discard(target)
    affected.discard(target)
    settle(company, affected)
    return result


def void(company: Company, entity: str, payload: Obj) -> Obj:
    """Void an Invoice (zeroed, payments unlinked) or a Payment (zeroed, lines removed)."""
    if entity not in ("Invoice", "Payment"):
        raise unsupported(f"Operation Void is not supported for {entity}")
    current = company.require(entity, payload.get("Id"))
    check_sync_token(entity, current, payload)
    target = (entity, current["Id"])
    affected = unlink_payments(company, target) if entity == "Invoice" else set()
    current = company.rows[entity][current["Id"]]
    stored = copy.deepcopy(current)
    if entity == "Invoice":
        for line in stored["Line"]:
            line["Amount"] = ZERO
            if "SalesItemLineDetail" in line:
                line["SalesItemLineDetail"].update(Qty=ZERO, UnitPrice=ZERO)
        stored.update(TotalAmt=ZERO, HomeTotalAmt=ZERO, Balance=ZERO)
    else:
        stored.update(Line=[], TotalAmt=ZERO, UnappliedAmt=ZERO)
    stored["PrivateNote"] = "Voided"
    company.voided.add(target)
    affected |= company.ledger.detach(entity, current)
    company.stamp(entity, stored, "Void")
    affected |= company.ledger.attach(entity, stored)
    settle(company, affected, target)
    return stored


def unlink_payments(company: Company, target: Target) -> set[Target]:
    """Remove a doomed invoice/credit memo from the payments applied to it."""
    affected: set[Target] = set()
    for payment_id in company.ledger.payments_for(target):
        current = company.rows["Payment"][payment_id]
        stored = copy.deepcopy(current)
        stored["Line"] = [line for line in stored["Line"] if _link(line) != target]
        _fit_lines(stored)
        affected |= company.ledger.detach("Payment", current)
        company.stamp("Payment", stored, "Update")
        affected |= company.ledger.attach("Payment", stored)
    return affected


def _link(line: Obj) -> Target:
    """The (TxnType, TxnId) a payment line links."""
    link = line["LinkedTxn"][0]
    return (str(link["TxnType"]), str(link["TxnId"]))


def _fit_lines(payment: Obj) -> None:
    """After unlinking, drop the other kind of lines if what remains no longer fits the total."""

    def net(lines: list[Obj]) -> Decimal:
        return sum(
            (Decimal(ln["Amount"]) * (1 if _link(ln)[0] == "Invoice" else -1) for ln in lines),
            ZERO,
        )

    total = Decimal(payment["TotalAmt"])
    if net(payment["Line"]) < 0:
        payment["Line"] = [ln for ln in payment["Line"] if _link(ln)[0] == "Invoice"]
    if not ZERO <= net(payment["Line"]) <= total:
        payment["Line"] = []
    payment["UnappliedAmt"] = money(total - net(payment["Line"]))
    logger.debug("payment %s lines refitted after unlinking", payment["Id"])
