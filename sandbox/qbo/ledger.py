"""Who paid what: payment applications, and the balances derived from them.

Derived fields: Invoice Balance and LinkedTxn; CreditMemo Balance and RemainingCredit;
Customer Balance = open invoice balances - unapplied credit memo amounts - unapplied
payment amounts; BalanceWithJobs adds the BalanceWithJobs of its sub-customers (ParentRef).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from .util import ZERO, money

Target = tuple[str, str]
DERIVED_ORDER = {"Invoice": 0, "CreditMemo": 0, "Payment": 1, "Customer": 2}


def customer_of(obj: dict[str, Any]) -> str | None:
    """The Id in a transaction's CustomerRef."""
    ref = obj.get("CustomerRef")
    return str(ref["value"]) if isinstance(ref, dict) and ref.get("value") else None


def applications(payment: dict[str, Any]) -> dict[Target, Decimal]:
    """Amount a payment applies per linked transaction."""
    totals: dict[Target, Decimal] = {}
    for line in payment.get("Line", []):
        for link in line.get("LinkedTxn", []):
            target = (str(link["TxnType"]), str(link["TxnId"]))
            totals[target] = totals.get(target, ZERO) + Decimal(line["Amount"])
    return totals


class Ledger:
    """Indexes: applications per invoice/credit memo, transactions per customer."""

    def __init__(self) -> None:
        self.applied: dict[Target, dict[str, Decimal]] = {}
        self.by_customer: dict[str, set[Target]] = {}
        # Sub-customers: child Id -> parent Id, parent Id -> child Ids.
        self.parent: dict[str, str] = {}
        self.children: dict[str, set[str]] = {}

    def ancestors(self, customer_id: str) -> list[str]:
        """The parent, its parent, ... of a customer (nearest first)."""
        out: list[str] = []
        current = self.parent.get(customer_id)
        while current is not None and current not in out and current != customer_id:
            out.append(current)
            current = self.parent.get(current)
        return out

    def _link(self, obj: dict[str, Any]) -> set[Target]:
        """Index a customer's ParentRef; the old and new parents' totals may change."""
        child = str(obj["Id"])
        affected = {("Customer", child)}
        old = self.parent.pop(child, None)
        if old is not None:
            self.children.get(old, set()).discard(child)
            affected |= {("Customer", a) for a in [old, *self.ancestors(old)]}
        new = customer_of({"CustomerRef": obj.get("ParentRef")})
        if new is not None:
            self.parent[child] = new
            self.children.setdefault(new, set()).add(child)
            affected |= {("Customer", a) for a in self.ancestors(child)}
        return affected

    def attach(self, entity: str, obj: dict[str, Any]) -> set[Target]:
        """Index a stored transaction; return the rows whose derived fields may change."""
        affected: set[Target] = set()
        if entity == "Customer":
            return self._link(obj)
        customer = customer_of(obj)
        if entity not in ("Invoice", "CreditMemo", "Payment") or customer is None:
            return affected
        self.by_customer.setdefault(customer, set()).add((entity, obj["Id"]))
        affected.add(("Customer", customer))
        if entity == "Payment":
            for target, amount in applications(obj).items():
                self.applied.setdefault(target, {})[obj["Id"]] = amount
                affected.add(target)
        else:
            affected.add((entity, obj["Id"]))
        return affected

    def detach(self, entity: str, obj: dict[str, Any]) -> set[Target]:
        """Forget a transaction's indexing; return the rows whose derived fields may change."""
        affected: set[Target] = set()
        customer = customer_of(obj)
        if entity not in ("Invoice", "CreditMemo", "Payment") or customer is None:
            return affected
        self.by_customer.get(customer, set()).discard((entity, obj["Id"]))
        affected.add(("Customer", customer))
        if entity == "Payment":
            for target in applications(obj):
                self.applied.get(target, {}).pop(obj["Id"], None)
                affected.add(target)
        return affected

    def applied_total(self, target: Target, excluding: str | None = None) -> Decimal:
        """Sum applied to an invoice/credit memo, optionally leaving one payment out."""
        amounts = self.applied.get(target, {})
        return sum((a for pid, a in amounts.items() if pid != excluding), ZERO)

    def payments_for(self, target: Target) -> list[str]:
        """Ids of payments applied to a transaction, oldest first."""
        return sorted(self.applied.get(target, {}), key=int)

    def rebuild(self, rows: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Recompute every index from the rows (after loading or seeding)."""
        self.applied.clear()
        self.by_customer.clear()
        self.parent.clear()
        self.children.clear()
        for entity in ("Customer", "Invoice", "CreditMemo", "Payment"):
            for obj in rows[entity].values():
                self.attach(entity, obj)


def derive(
    rows: dict[str, dict[str, dict[str, Any]]],
    ledger: Ledger,
    voided: set[Target],
    target: Target,
) -> bool:
    """Recompute one row's derived fields in place; True if anything changed."""
    entity, object_id = target
    obj = rows.get(entity, {}).get(object_id)
    if obj is None:
        return False
    before = {k: obj.get(k) for k in ("Balance", "LinkedTxn", "RemainingCredit", "BalanceWithJobs")}
    if entity == "Invoice":
        total = Decimal(obj.get("TotalAmt") or 0)
        balance = ZERO if target in voided else total - ledger.applied_total(target)
        obj["Balance"] = money(balance)
        obj["LinkedTxn"] = [
            {"TxnId": pid, "TxnType": "Payment"} for pid in ledger.payments_for(target)
        ]
    elif entity == "CreditMemo":
        remaining = money(Decimal(obj.get("TotalAmt") or 0) - ledger.applied_total(target))
        obj["Balance"] = remaining
        obj["RemainingCredit"] = remaining
    elif entity == "Customer":
        balance = _customer_balance(rows, ledger.by_customer.get(object_id, set()))
        obj["Balance"] = balance
        # children are derived first (derive_order), so their totals are current
        jobs = [rows["Customer"].get(child) for child in ledger.children.get(object_id, ())]
        obj["BalanceWithJobs"] = money(
            balance + sum((Decimal(j.get("BalanceWithJobs") or 0) for j in jobs if j), ZERO)
        )
    else:
        return False
    return any(obj.get(k) != v for k, v in before.items())


def _customer_balance(
    rows: dict[str, dict[str, dict[str, Any]]], txns: Iterable[Target]
) -> Decimal:
    """Open invoices minus unapplied credits and unapplied payments."""
    balance = ZERO
    for entity, object_id in txns:
        obj = rows[entity].get(object_id)
        if obj is None:
            continue
        if entity == "Invoice":
            balance += Decimal(obj.get("Balance") or 0)
        elif entity == "CreditMemo":
            balance -= Decimal(obj.get("RemainingCredit") or 0)
        else:
            balance -= Decimal(obj.get("UnappliedAmt") or 0)
    return money(balance)


def derive_order(ledger: Ledger) -> Callable[[Target], tuple[int, int, int]]:
    """Invoices and credit memos before customers, whose balance sums them; sub-customers
    before their parents, whose BalanceWithJobs sums theirs."""

    def key(target: Target) -> tuple[int, int, int]:
        depth = len(ledger.ancestors(target[1])) if target[0] == "Customer" else 0
        return (DERIVED_ORDER.get(target[0], 3), -depth, int(target[1]))

    return key


def with_owners(
    rows: dict[str, dict[str, dict[str, Any]]], ledger: Ledger, affected: set[Target]
) -> set[Target]:
    """Add the customers of affected invoices and credit memos (a parent's payment lowers a
    sub-customer's invoice, so that sub-customer's balance) and every customer's ancestors."""
    out = set(affected)
    for entity, object_id in affected:
        if entity in ("Invoice", "CreditMemo"):
            owner = customer_of(rows.get(entity, {}).get(object_id) or {})
            if owner is not None:
                out.add(("Customer", owner))
    for entity, object_id in list(out):
        if entity == "Customer":
            out |= {("Customer", a) for a in ledger.ancestors(object_id)}
    return out
