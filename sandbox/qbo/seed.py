"""Deterministic, realistic seed data: customers, a service catalog, invoices, payments, credits.

Rows go through the same normalizers as API writes but skip per-write re-derivation; balances
are derived once at the end, so 10,000 customers / 100,000 invoices seed in seconds.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import writes
from .entities import USD, normalize
from .ledger import derive
from .names import FIRST, LAST, STREETS, TRADES, WORDS
from .store import Company
from .util import ZERO, format_timestamp, money

if TYPE_CHECKING:
    from .state import SandboxState

SUFFIXES = ("LLC", "Inc.", "Co.", "Group", "& Sons", "Partners")
STREET_KINDS = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Way", "Ct")
CITIES = (
    ("Portland", "OR", "972"),
    ("Denver", "CO", "802"),
    ("Austin", "TX", "787"),
    ("Madison", "WI", "537"),
    ("Raleigh", "NC", "276"),
    ("Boise", "ID", "837"),
    ("Sacramento", "CA", "958"),
    ("Columbus", "OH", "432"),
    ("Burlington", "VT", "054"),
    ("Tucson", "AZ", "857"),
)
DOMAINS = ("example.com", "example.net", "example.org")
CATALOG = (
    ("Monthly service", "Monthly service plan", "79.00"),
    ("Installation", "On-site installation", "150.00"),
    ("Support hours", "Technical support, per hour", "95.00"),
    ("Equipment rental", "Equipment rental, per month", "45.00"),
    ("Maintenance plan", "Preventive maintenance visit", "120.00"),
    ("Consulting", "Consulting, per hour", "125.00"),
)
LATE_FEE = ("Late fee", "Late payment fee", "25.00")
ACCOUNTS = (
    ("Checking", "Bank", "Checking"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("Services", "Income", "ServiceFeeIncome"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("Late Fee Income", "Other Income", "OtherMiscellaneousIncome"),
)
PAYMENT_METHODS = (
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Visa", "CREDIT_CARD"),
    ("MasterCard", "CREDIT_CARD"),
    ("American Express", "CREDIT_CARD"),
    ("Discover", "CREDIT_CARD"),
)


def add_base_records(company: Company) -> None:
    """The starter chart of accounts, payment methods and the default 'Services' item."""
    for name, kind, sub_kind in ACCOUNTS:
        body = {"Name": name, "AccountType": kind, "AccountSubType": sub_kind}
        writes.create(company, "Account", body)
    for name, kind in PAYMENT_METHODS:
        writes.create(company, "PaymentMethod", {"Name": name, "Type": kind})
    services = company.find_name("Account", "Services")
    writes.create(
        company,
        "Item",
        {"Name": "Services", "Type": "Service", "IncomeAccountRef": {"value": services}},
    )


def add_catalog(company: Company) -> dict[str, dict[str, Any]]:
    """Create the service catalog and the 'Late fee' item (idempotent); return items by name."""
    services = company.find_name("Account", "Services")
    late_fees = company.find_name("Account", "Late Fee Income")
    for (name, description, price), account in [(e, services) for e in CATALOG] + [
        (LATE_FEE, late_fees)
    ]:
        if company.find_name("Item", name) is None:
            body = {
                "Name": name,
                "Description": description,
                "Type": "Service",
                "UnitPrice": Decimal(price),
                "IncomeAccountRef": {"value": account},
            }
            writes.create(company, "Item", body)
    names = [entry[0] for entry in CATALOG] + [LATE_FEE[0]]
    return {name: company.rows["Item"][company.find_name("Item", name) or ""] for name in names}


@dataclass
class _Seeder:
    """Builds rows straight into a company with explicit timestamps."""

    company: Company
    rng: random.Random
    today: date
    touched: dict[tuple[str, str], list[datetime]] = field(default_factory=dict)

    def moment(self, day: date) -> datetime:
        """A business-hours moment on a company-local day."""
        seconds = self.rng.randint(8 * 3600, 18 * 3600)
        local = datetime.combine(day, time(), tzinfo=timezone(self.company.utc_offset))
        return local + timedelta(seconds=seconds)

    def insert(self, entity: str, body: dict[str, Any], when: datetime) -> dict[str, Any]:
        """Normalize a body and store it created at `when`."""
        return self.store(entity, normalize(self.company, entity, body, None), when)

    def store(self, entity: str, row: dict[str, Any], when: datetime) -> dict[str, Any]:
        """Store an already complete row created at `when`."""
        row["Id"] = self.company.new_id(entity)
        stamp = format_timestamp(when, self.company.utc_offset)
        row.update(SyncToken="0", domain="QBO", sparse=False)
        row["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
        self.company.put(entity, row)
        self.company.ledger.attach(entity, row)
        return row

    def touch(self, entity: str, object_id: str, when: datetime) -> None:
        """Remember a later change so SyncToken/LastUpdatedTime can reflect it."""
        self.touched.setdefault((entity, object_id), []).append(when)


def _person(rng: random.Random, used: set[str]) -> tuple[dict[str, Any], str]:
    """A customer body (person or business) with a unique DisplayName."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    if rng.random() < 0.3:
        trade = f"{rng.choice(WORDS)} {rng.choice(TRADES)}"
        display = f"{trade} {rng.choice(SUFFIXES)}"
        body: dict[str, Any] = {"CompanyName": display, "GivenName": first, "FamilyName": last}
        email_user = trade.lower().replace(" ", "")
    else:
        display = f"{first} {last}"
        body = {"GivenName": first, "FamilyName": last}
        email_user = f"{first}.{last}".lower()
    if display in used:
        display = f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
    serial = 2
    base = display
    while display in used:
        display, serial = f"{base} {serial}", serial + 1
    used.add(display)
    city, region, zip_prefix = rng.choice(CITIES)
    body.update(
        DisplayName=display,
        PrimaryEmailAddr={"Address": f"{email_user}{rng.randint(1, 999)}@{rng.choice(DOMAINS)}"},
        PrimaryPhone={"FreeFormNumber": f"(555) 01{rng.randint(0, 9)}-{rng.randint(0, 9999):04d}"},
        BillAddr={
            "Line1": f"{rng.randint(10, 9999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}",
            "City": city,
            "CountrySubDivisionCode": region,
            "PostalCode": f"{zip_prefix}{rng.randint(0, 99):02d}",
            "Country": "USA",
        },
    )
    if "CompanyName" in body:  # a business is served at its premises: the same address
        body["ShipAddr"] = dict(body["BillAddr"])
    return body, display


def _pick_lines(rng: random.Random, catalog: dict[str, Any]) -> list[tuple[Any, int]]:
    """One to three (item, qty) catalog picks."""
    picks = []
    for name in rng.sample([entry[0] for entry in CATALOG], rng.randint(1, 3)):
        qty = rng.randint(1, 8) if name in ("Support hours", "Consulting") else 1
        picks.append((catalog[name], qty))
    return picks


def _invoice_row(
    company: Company, customer: dict[str, Any], picks: list[tuple[Any, int]], day: date
) -> dict[str, Any]:
    """A complete invoice row, shaped exactly like entities.sales_form output (fast path)."""
    lines: list[dict[str, Any]] = []
    for number, (item, qty) in enumerate(picks, start=1):
        detail = {
            "ItemRef": {"value": item["Id"], "name": item["Name"]},
            "Qty": Decimal(qty),
            "UnitPrice": item["UnitPrice"],
            "ItemAccountRef": dict(item["IncomeAccountRef"]),
            "TaxCodeRef": {"value": "NON"},
        }
        amount = money(qty * item["UnitPrice"])
        lines.append(
            {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}
        )
        lines[-1].update(Id=str(number), LineNum=number)
    total = money(sum((line["Amount"] for line in lines), ZERO))
    lines.append({"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    row = {
        "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
        "Line": lines,
        "TotalAmt": total,
        "HomeTotalAmt": total,
        "CurrencyRef": dict(USD),
        "DocNumber": company.next_doc_number("Invoice"),
        "TxnDate": day.isoformat(),
        "DueDate": (day + timedelta(days=30)).isoformat(),
        "PrintStatus": "NotSet",
        "EmailStatus": "NotSet",
        "Balance": total,
        "LinkedTxn": [],
    }
    if customer.get("PrimaryEmailAddr"):
        row["BillEmail"] = dict(customer["PrimaryEmailAddr"])
    if customer.get("BillAddr"):
        row["BillAddr"] = dict(customer["BillAddr"])
    return row


def _payment_row(
    company: Company,
    customer: dict[str, Any],
    invoice_id: str,
    amount: Decimal,
    day: date,
    method: dict[str, Any],
) -> dict[str, Any]:
    """A complete single-invoice payment row, shaped like entities.payment output."""
    deposit = company.rows["Account"][company.find_name("Account", "Undeposited Funds") or ""]
    return {
        "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
        "TotalAmt": amount,
        "UnappliedAmt": ZERO,
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
        "DepositToAccountRef": {"value": deposit["Id"], "name": deposit["Name"]},
        "PaymentMethodRef": {"value": method["Id"], "name": method["Name"]},
        "TxnDate": day.isoformat(),
        "ProcessPayment": False,
        "CurrencyRef": dict(USD),
    }


def seed_company(
    state: SandboxState,
    realm_id: str | None = None,
    customers: int = 50,
    invoices: int = 200,
    rng_seed: int = 1234,
    collect_after_days: int | None = None,
    late_days: Sequence[int] = (),
) -> Company:
    """Fill a company (created if needed) with deterministic customers, invoices and payments.

    Invoices span the year up to today, due 30 days after they were issued. By default an
    overdue one is left unpaid now and then, however old. With `collect_after_days`, the
    company collects: every invoice more than that many days past due has been paid, except
    that for each entry of `late_days` one customer stopped paying: their oldest unpaid invoice
    fell due exactly that many days ago, a bill a month has followed, and none is paid (all of
    them among the `invoices`). So a demo can show a few accounts at each step of an overdue
    ladder, and the rest current."""
    with state.lock:
        realm_id = realm_id or state.default_realm_id
        company = state.companies.get(realm_id or "") or state.add_company(realm_id)
        now = state.now()
        catalog = add_catalog(company)
        seeder = _Seeder(
            company, random.Random(rng_seed), now.astimezone(timezone(company.utc_offset)).date()
        )
        # the cyclic GC rescans the whole growing heap again and again: quadratic; skip it
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            customer_ids = _seed_customers(seeder, customers, now)
            if customer_ids:
                policy = _Collections(seeder, customer_ids, collect_after_days, late_days)
                _seed_invoices(seeder, catalog, customer_ids, invoices, now, policy)
            _finish(seeder)
        finally:
            if gc_was_enabled:
                gc.enable()
        if invoices >= 10_000:
            # park the big, long-lived seeded heap outside the collector: full collections
            # would otherwise rescan millions of rows during every large query (~30% faster)
            gc.freeze()
        company.drain_events()
        return company


def _seed_customers(seeder: _Seeder, count: int, now: datetime) -> list[str]:
    """Customers created 13 to 24 months ago."""
    used = {row["DisplayName"] for row in seeder.company.rows["Customer"].values()}
    ids = []
    for _ in range(count):
        body, _name = _person(seeder.rng, used)
        day = seeder.today - timedelta(days=seeder.rng.randint(380, 730))
        ids.append(seeder.insert("Customer", body, seeder.moment(day))["Id"])
    return ids


@dataclass
class _Collections:
    """Which overdue invoices have been paid in a company that collects (see seed_company)."""

    after_days: int | None
    late: dict[str, int]  # customer id -> days their oldest unpaid invoice is past due

    def __init__(
        self,
        seeder: _Seeder,
        customer_ids: list[str],
        after_days: int | None,
        late_days: Sequence[int],
    ) -> None:
        self.after_days = after_days
        picked = seeder.rng.sample(customer_ids, min(len(late_days), len(customer_ids)))
        self.late = dict(zip(picked, late_days, strict=False))

    def settled(self, customer_id: str, due: date, today: date) -> bool | None:
        """True: paid in full (it was too far behind); False: left unpaid (a late customer
        stopped paying when their oldest unpaid bill fell due); None: paid or not, at random."""
        if self.after_days is None:
            return None
        late_by = (today - due).days
        if customer_id in self.late:
            return late_by > self.late[customer_id]
        return True if late_by > self.after_days else None


def _seed_invoices(
    seeder: _Seeder,
    catalog: dict[str, dict[str, Any]],
    customer_ids: list[str],
    count: int,
    now: datetime,
    policy: _Collections,
) -> None:
    """Invoices over the last year, then their payments and a few credit memos, in date order."""
    rng = seeder.rng
    # the late accounts' unpaid bills: the oldest, then one a month (issued 30 days before due)
    late: list[tuple[date, str | None]] = [
        (seeder.today - timedelta(days=days_late + 30 - month), customer_id)
        for customer_id, days_late in policy.late.items()
        for month in range(0, days_late + 31, 30)
    ]
    late = late[:count]
    days: list[tuple[date, str | None]] = [
        (seeder.today - timedelta(days=rng.randint(1, 364)), None) for _ in range(count - len(late))
    ]
    days = sorted(days + late, key=lambda entry: entry[0])
    methods = list(seeder.company.rows["PaymentMethod"])
    payments: list[tuple[date, str, str, Decimal]] = []
    unpaid: set[str] = set()
    customers = seeder.company.rows["Customer"]
    for day, late_customer in days:
        customer = customers[late_customer or rng.choice(customer_ids)]
        picks = _pick_lines(rng, catalog)
        due = day + timedelta(days=30)
        overdue = due < seeder.today
        if overdue and rng.random() < 0.1:
            picks.append((catalog[LATE_FEE[0]], 1))
        row = _invoice_row(seeder.company, customer, picks, day)
        invoice = seeder.store("Invoice", row, min(seeder.moment(day), now))
        roll = rng.random()
        if late_customer is not None:
            unpaid.add(invoice["Id"])
            continue
        paid_share = 0.7 if overdue else 0.3
        settled = policy.settled(customer["Id"], due, seeder.today)
        if settled is False:
            continue
        if settled or roll < paid_share + 0.1:
            amount = invoice["TotalAmt"]
            if roll >= paid_share and not settled:
                amount = money(amount * Decimal(rng.randint(25, 75)) / 100)
            pay_day = min(day + timedelta(days=rng.randint(1, 45)), seeder.today)
            if settled:
                pay_day = min(pay_day, due + timedelta(days=policy.after_days or 0))
            payments.append((pay_day, customer["Id"], invoice["Id"], amount))
    for pay_day, customer_id, invoice_id, amount in sorted(payments):
        method = seeder.company.rows["PaymentMethod"][rng.choice(methods)]
        row = _payment_row(
            seeder.company, customers[customer_id], invoice_id, amount, pay_day, method
        )
        when = min(seeder.moment(pay_day), now)
        seeder.store("Payment", row, when)
        seeder.touch("Invoice", invoice_id, when)
    _seed_credits(seeder, catalog, max(1, count // 100), now, unpaid)


def _seed_credits(
    seeder: _Seeder,
    catalog: dict[str, dict[str, Any]],
    count: int,
    now: datetime,
    unpaid: set[str],
) -> None:
    """Service credits; half are applied to an open invoice by a zero-total payment (never to
    an invoice that must stay unpaid)."""
    rng = seeder.rng
    company = seeder.company
    open_invoices = [
        row
        for row in company.rows["Invoice"].values()
        if company.ledger.applied_total(("Invoice", row["Id"])) == 0 and row["Id"] not in unpaid
    ]
    for invoice in rng.sample(open_invoices, min(count, len(open_invoices))):
        amount = money(min(invoice["TotalAmt"], Decimal(rng.randint(10, 50))))
        item = catalog["Monthly service"]
        detail = {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": amount}
        body = {
            "CustomerRef": dict(invoice["CustomerRef"]),
            "TxnDate": invoice["TxnDate"],
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Description": "Service credit",
                    "SalesItemLineDetail": detail,
                }
            ],
        }
        day = date.fromisoformat(invoice["TxnDate"])
        memo = seeder.insert("CreditMemo", body, min(seeder.moment(day), now))
        if rng.random() < 0.5:
            continue
        lines = [
            {"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
            {"Amount": amount, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]},
        ]
        apply = {
            "CustomerRef": dict(invoice["CustomerRef"]),
            "TotalAmt": 0,
            "Line": lines,
            "TxnDate": invoice["TxnDate"],
        }
        when = min(seeder.moment(day) + timedelta(hours=1), now)
        seeder.insert("Payment", apply, when)
        seeder.touch("Invoice", invoice["Id"], when)
        seeder.touch("CreditMemo", memo["Id"], when)


def _finish(seeder: _Seeder) -> None:
    """Apply the remembered later changes, derive every balance once, date the customers."""
    company = seeder.company
    for (entity, object_id), moments in seeder.touched.items():
        row = company.rows[entity][object_id]
        row["SyncToken"] = str(int(row["SyncToken"]) + len(moments))
        row["MetaData"]["LastUpdatedTime"] = format_timestamp(max(moments), company.utc_offset)
    for entity in ("Invoice", "CreditMemo", "Customer"):
        for object_id in list(company.rows[entity]):
            derive(company.rows, company.ledger, company.voided, (entity, object_id))
    for customer_id, txns in company.ledger.by_customer.items():
        customer = company.rows["Customer"].get(customer_id)
        times = [company.rows[e][i]["MetaData"]["LastUpdatedTime"] for e, i in txns]
        if customer is not None and times and max(times) > customer["MetaData"]["LastUpdatedTime"]:
            customer["MetaData"]["LastUpdatedTime"] = max(times)
            customer["SyncToken"] = str(int(customer["SyncToken"]) + len(times))
    for entity in company.versions:
        company.versions[entity] += 1
