"""Service locations are QuickBooks sub-customers: the mirror keeps their parent (even when a
child arrives first), whether they are billed with it, and their level; the sandbox answers as
QuickBooks does (Job, ParentRef, Level, FullyQualifiedName, BalanceWithJobs)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.billing.models import Customer, Invoice
from sandbox.qbo import Company, QboFault, QboSandbox
from sandbox.qbo import writes as qbo_writes
from sandbox.qbo.locations import seed_locations
from sync.fake import FakeAccounting
from sync.mirror import Mirror, MirrorSettings
from sync.models import RunStatus
from sync.quickbooks import QuickBooksAdapter
from tests import records as rec
from tests.integration.qbo_fixtures import *  # noqa: F403  (fixtures)


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.extensions["portal.db"].sessions
    return factory


def location(cid: str, parent: str, billed: bool = True) -> Any:
    return dataclasses.replace(
        rec.customer(cid), parent_id=parent, bill_with_parent=billed, level=1
    )


def parents(sessions: sessionmaker[Session]) -> dict[str, tuple[str | None, bool, int]]:
    """qbo_id → (parent's qbo_id through the foreign key, billed with parent, level)."""
    with sessions() as s:
        rows = s.scalars(sa.select(Customer)).all()
        by_id = {c.id: c.qbo_id for c in rows}
        return {
            c.qbo_id: (by_id.get(c.parent_id) if c.parent_id else None, c.bill_with_parent, c.level)
            for c in rows
        }


def fake_mirror(qbo: FakeAccounting, sessions: sessionmaker[Session], **kw: Any) -> Mirror:
    return Mirror(qbo, sessions, MirrorSettings(**kw), clock=lambda: qbo.now)


def test_a_full_mirror_links_a_sub_customer_that_came_a_page_before_its_parent(sessions):
    qbo = FakeAccounting("realm-1")
    qbo.put(location("5", "9"))  # the child is older: first page
    qbo.put(location("6", "9", billed=False))
    qbo.put(rec.customer("9", "Harborview Property Group"))
    run = fake_mirror(qbo, sessions, page_size=1).run()
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert parents(sessions) == {
        "5": ("9", True, 1),
        "6": ("9", False, 1),
        "9": (None, False, 0),
    }


def test_cdc_links_a_child_whose_parent_arrives_in_a_later_answer_and_follows_moves(sessions):
    qbo = FakeAccounting("realm-1")
    qbo.put(rec.customer("1"))
    mirror = fake_mirror(qbo, sessions)
    assert mirror.run().status is RunStatus.SUCCEEDED
    qbo.put(location("5", "9"))  # the parent is not in QuickBooks' answer yet
    qbo.put(rec.invoice("50", "5", "80.00"))
    mirror.run()
    assert parents(sessions)["5"] == (None, True, 1)  # kept, waiting for the parent
    qbo.put(rec.customer("9", "Harborview Property Group"))
    run = mirror.run()
    assert run.kind == "incremental" and run.status is RunStatus.SUCCEEDED
    assert parents(sessions)["5"] == ("9", True, 1)
    qbo.put(location("5", "1"))  # moved under another parent in QuickBooks
    mirror.run()
    assert parents(sessions)["5"] == ("1", True, 1)
    qbo.put(rec.customer("5"))  # made a top-level customer again
    mirror.run()
    assert parents(sessions)["5"] == (None, False, 0)


def company_of(sandbox: QboSandbox) -> Company:
    return sandbox.state.companies[sandbox.state.default_realm_id or ""]


def test_the_sandbox_gives_a_sub_customer_its_level_full_name_and_parent_totals(
    company: Company,
):
    parent = seed_locations(company)
    kids = [c for c in company.rows["Customer"].values() if c.get("ParentRef")]
    assert len(kids) == 2
    for kid in kids:
        assert kid["Job"] is True and kid["BillWithParent"] is True and kid["Level"] == 1
        assert kid["ParentRef"] == {"value": parent["Id"], "name": parent["DisplayName"]}
        assert kid["FullyQualifiedName"] == f"{parent['DisplayName']}:{kid['DisplayName']}"
    own = Decimal(parent["Balance"])
    assert Decimal(parent["BalanceWithJobs"]) == own + sum(
        Decimal(k["BalanceWithJobs"]) for k in kids
    )
    with pytest.raises(QboFault) as refused:  # Job and ParentRef go together
        qbo_writes.create(company, "Customer", {"DisplayName": "Loose", "Job": True})
    assert refused.value.element == "ParentRef"


def test_renaming_a_parent_in_the_sandbox_renames_its_jobs_full_names(company: Company):
    parent = seed_locations(company)
    kid = next(c for c in company.rows["Customer"].values() if c.get("ParentRef"))
    token = kid["SyncToken"]
    body = {"Id": parent["Id"], "SyncToken": parent["SyncToken"], "sparse": True}
    qbo_writes.update(company, "Customer", {**body, "DisplayName": "Harborview Holdings"})
    assert kid["FullyQualifiedName"] == f"Harborview Holdings:{kid['DisplayName']}"
    assert kid["ParentRef"]["name"] == "Harborview Holdings"
    assert int(kid["SyncToken"]) > int(token)  # a change CDC reports


def test_the_sandbox_refuses_a_payment_linking_a_location_not_billed_with_the_payer(
    company: Company,
):
    parent = seed_locations(company)
    alone = qbo_writes.create(
        company,
        "Customer",
        {
            "DisplayName": "Harborview - Own billing",
            "Job": True,
            "ParentRef": {"value": parent["Id"]},
        },
    )
    other = next(c for c in company.rows["Customer"].values() if not c.get("ParentRef"))
    item = company.find_name("Item", "Services")
    invoice = qbo_writes.create(
        company,
        "Invoice",
        {
            "CustomerRef": {"value": alone["Id"]},
            "Line": [
                {
                    "Amount": 40,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item}},
                }
            ],
        },
    )
    billed = next(
        i
        for i in company.rows["Invoice"].values()
        if i["CustomerRef"]["value"] != alone["Id"]
        and company.rows["Customer"][i["CustomerRef"]["value"]].get("BillWithParent")
        and Decimal(i["Balance"]) > 0
    )

    def pay(payer: str, txn: dict[str, Any]) -> dict[str, Any]:
        body = {
            "CustomerRef": {"value": payer},
            "TotalAmt": 1,
            "Line": [{"Amount": 1, "LinkedTxn": [{"TxnId": txn["Id"], "TxnType": "Invoice"}]}],
        }
        return qbo_writes.create(company, "Payment", body)

    for payer, txn in [(parent["Id"], invoice), (other["Id"], billed)]:
        with pytest.raises(QboFault) as refused:
            pay(payer, txn)
        assert refused.value.code == "6000" and "belongs to another customer" in str(refused.value)
    assert pay(alone["Id"], invoice)["CustomerRef"]["value"] == alone["Id"]
    assert pay(parent["Id"], billed)["CustomerRef"]["value"] == parent["Id"]


def test_locations_mirrored_through_python_quickbooks_full_and_by_cdc(
    company: Company, sandbox: QboSandbox, adapter: QuickBooksAdapter, sessions
):
    mirror = Mirror(adapter, sessions, MirrorSettings(page_size=2))
    assert mirror.run().status is RunStatus.SUCCEEDED  # no locations yet
    with sandbox.state.lock:
        parent = seed_locations(company_of(sandbox))
    run = mirror.run()
    assert run.kind == "incremental" and run.status is RunStatus.SUCCEEDED, run.error
    got = parents(sessions)
    kids = [q for q, (p, _, _) in got.items() if p == parent["Id"]]
    assert len(kids) == 2 and all(got[k][1:] == (True, 1) for k in kids)
    with sessions() as s:
        total = s.scalar(
            sa.select(sa.func.sum(Invoice.balance)).join(Customer).where(Customer.qbo_id.in_(kids))
        )
    assert total == Decimal(parent["BalanceWithJobs"]) - Decimal(parent["Balance"])
    full = Mirror(adapter, sessions, MirrorSettings(page_size=2)).run("full")
    assert full.status is RunStatus.SUCCEEDED and full.inserted == 0
    assert parents(sessions) == got
