"""A customer with service locations: QuickBooks sub-customers billed with the parent.

Made through the same writes as the API (so Level, FullyQualifiedName, balances and CDC are
QuickBooks'), after the rest of the seed, so the seeded customers and their data stay as they
were: the locations customer is the newest one."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from . import writes
from .seed import add_catalog
from .store import Company

PARENT_NAME = "Harborview Property Group"
PARENT: dict[str, Any] = {
    "DisplayName": PARENT_NAME,
    "CompanyName": PARENT_NAME,
    "PrimaryEmailAddr": {"Address": "accounts@harborview.example.com"},
    "BillAddr": {
        "Line1": "400 Harbor Blvd",
        "City": "Portland",
        "CountrySubDivisionCode": "OR",
        "PostalCode": "97201",
    },
}
# (DisplayName, address line, [(item, qty, days ago issued)])
LOCATIONS = (
    (
        "Harborview - 12 Pier Rd",
        "12 Pier Rd",
        [("Monthly service", 1, 45), ("Monthly service", 1, 15), ("Maintenance plan", 1, 5)],
    ),
    (
        "Harborview - 88 Alder St",
        "88 Alder St",
        [("Monthly service", 1, 44), ("Equipment rental", 2, 14), ("Support hours", 2, 3)],
    ),
)


def seed_locations(company: Company) -> dict[str, Any]:
    """The parent and its two locations, each with a few invoices (the oldest paid by the
    parent in one payment); idempotent. Returns the parent."""
    existing = company.find_name("Customer", PARENT["DisplayName"])
    if existing is not None:
        return company.rows["Customer"][existing]
    catalog = add_catalog(company)
    today = date.fromisoformat(company.today())
    parent = writes.create(company, "Customer", dict(PARENT))
    paid: list[tuple[str, Decimal]] = []
    for name, street, bills in LOCATIONS:
        address = dict(PARENT["BillAddr"], Line1=street)
        body = {
            "DisplayName": name,
            "Job": True,
            "BillWithParent": True,
            "ParentRef": {"value": parent["Id"]},
            "BillAddr": address,
            "ShipAddr": address,
        }
        location = writes.create(company, "Customer", body)
        for number, (item, qty, days_ago) in enumerate(bills):
            issued = today - timedelta(days=days_ago)
            line = {
                "Amount": catalog[item]["UnitPrice"] * qty,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": catalog[item]["Id"]},
                    "Qty": qty,
                    "UnitPrice": catalog[item]["UnitPrice"],
                },
            }
            invoice = writes.create(
                company,
                "Invoice",
                {
                    "CustomerRef": {"value": location["Id"]},
                    "TxnDate": issued.isoformat(),
                    "DueDate": (issued + timedelta(days=30)).isoformat(),
                    "Line": [line],
                },
            )
            if number == 0:
                paid.append((invoice["Id"], Decimal(invoice["TotalAmt"])))
    writes.create(
        company,
        "Payment",
        {
            "CustomerRef": {"value": parent["Id"]},
            "TotalAmt": sum((amount for _, amount in paid), Decimal(0)),
            "TxnDate": (today - timedelta(days=14)).isoformat(),
            "PaymentRefNum": "1042",
            "Line": [
                {"Amount": amount, "LinkedTxn": [{"TxnId": txn, "TxnType": "Invoice"}]}
                for txn, amount in paid
            ],
        },
    )
    company.drain_events()
    return company.rows["Customer"][parent["Id"]]
