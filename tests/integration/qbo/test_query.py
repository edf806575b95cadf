"""The query language over HTTP: paging, limits, COUNT, filters and Active handling."""

from __future__ import annotations

import time

import pytest
import requests
from quickbooks import QuickBooks
from quickbooks.exceptions import ObjectNotFoundException, ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item

from sandbox.qbo import Company, QboSandbox, seed_company


def test_paging_1000_rows_ordered_by_last_updated_time_returns_every_invoice_once(
    sandbox: QboSandbox, qb: QuickBooks, company: Company
) -> None:
    seed_company(sandbox.state, company.realm_id, customers=50, invoices=2470, rng_seed=3)
    total = Invoice.count(qb=qb)
    assert total == 2500
    seen: list[str] = []
    stamps: list[str] = []
    started = time.perf_counter()
    position = 1
    while True:
        page = f"STARTPOSITION {position} MAXRESULTS 1000"
        statement = "SELECT * FROM Invoice ORDERBY MetaData.LastUpdatedTime, Id " + page  # noqa: S608
        reply = qb.query(statement)["QueryResponse"]
        rows = reply.get("Invoice", [])
        if not rows:
            break
        assert reply["startPosition"] == position
        assert reply["maxResults"] == len(rows) <= 1000
        seen += [row["Id"] for row in rows]
        stamps += [row["MetaData"]["LastUpdatedTime"] for row in rows]
        position += len(rows)
    assert len(seen) == len(set(seen)) == total
    assert stamps == sorted(stamps)
    assert time.perf_counter() - started < 10


def test_maxresults_over_1000_is_a_validation_fault(qb: QuickBooks) -> None:
    with pytest.raises(ValidationException) as caught:
        qb.query("SELECT * FROM Invoice MAXRESULTS 1500")
    assert caught.value.error_code == 4001
    assert "value 1500 is too large. Max allowed value is 1000" in caught.value.detail


def test_count_star_returns_total_count(qb: QuickBooks, company: Company) -> None:
    open_count = sum(1 for row in company.rows["Invoice"].values() if row["Balance"] > 0)
    assert Invoice.count(qb=qb) == 30
    assert Invoice.count("Balance > '0'", qb=qb) == open_count


def test_default_page_is_100_rows_and_past_the_end_is_empty(
    sandbox: QboSandbox, qb: QuickBooks, company: Company
) -> None:
    seed_company(sandbox.state, company.realm_id, customers=5, invoices=120, rng_seed=9)
    first = qb.query("SELECT * FROM Invoice")["QueryResponse"]
    assert len(first["Invoice"]) == 100
    assert qb.query("SELECT * FROM Invoice STARTPOSITION 500")["QueryResponse"] == {}


def test_inactive_customers_are_hidden_unless_active_is_filtered(
    qb: QuickBooks, company: Company
) -> None:
    customer = Customer.get(1, qb=qb)
    customer.Active = False
    saved = customer.save(qb=qb)
    assert saved.DisplayName.endswith(" (deleted)")
    visible = Customer.all(qb=qb)
    assert "1" not in {c.Id for c in visible}
    everyone = Customer.where("Active IN (true, false)", qb=qb)
    assert "1" in {c.Id for c in everyone}
    assert [c.Id for c in Customer.where("Active = false", qb=qb)] == ["1"]


def test_field_names_are_case_insensitive_and_nested_paths_work(
    qb: QuickBooks, company: Company
) -> None:
    row = company.rows["Invoice"]["10"]
    stamp = row["MetaData"]["LastUpdatedTime"]
    lower = qb.query("select * from invoice where metadata.lastupdatedtime >= " + f"'{stamp}'")  # noqa: S608
    upper = qb.query("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= " + f"'{stamp}'")  # noqa: S608
    assert lower["QueryResponse"] == upper["QueryResponse"]
    ids = {r["Id"] for r in upper["QueryResponse"]["Invoice"]}
    assert "10" in ids


def test_in_like_and_ref_comparisons_filter_rows(qb: QuickBooks, company: Company) -> None:
    invoices = Invoice.choose(["1", "2", "3"], qb=qb)
    assert sorted(i.Id for i in invoices) == ["1", "2", "3"]
    name = company.rows["Customer"]["2"]["DisplayName"]
    found = Customer.where(f"DisplayName LIKE '{name[:3]}%'", qb=qb)
    assert "2" in {c.Id for c in found}
    mine = Invoice.filter(CustomerRef="2", qb=qb)
    expected = {
        r["Id"] for r in company.rows["Invoice"].values() if r["CustomerRef"]["value"] == "2"
    }
    assert {i.Id for i in mine} == expected


def test_item_all_with_sku_column_and_late_fee_income_account(qb: QuickBooks) -> None:
    items = {item.Name: item for item in Item.all(qb=qb)}
    late_fee = items["Late fee"]
    account = qb.get_single_object("Account", late_fee.IncomeAccountRef.value)["Account"]
    assert account["AccountType"] == "Other Income"


def test_or_is_a_parse_error(qb: QuickBooks) -> None:
    with pytest.raises(ValidationException) as caught:
        qb.query("SELECT * FROM Customer WHERE Id = '1' OR Id = '2'")
    assert caught.value.error_code == 4000


def test_get_query_with_query_parameter_works(sandbox: QboSandbox, qb: QuickBooks) -> None:
    response = requests.get(
        f"{sandbox.api_base_url}/company/{qb.company_id}/query",
        params={"query": "SELECT COUNT(*) FROM Customer", "minorversion": "75"},
        headers={"Authorization": f"Bearer {qb.session.access_token}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["QueryResponse"]["totalCount"] == 8
    assert response.headers["intuit_tid"]


def test_reading_a_missing_object_is_610(qb: QuickBooks) -> None:
    with pytest.raises(ObjectNotFoundException) as caught:
        Invoice.get(99999, qb=qb)
    assert caught.value.error_code == 610
