"""The QuickBooks adapter, driven through the real python-quickbooks and intuit-oauth clients
against a started QboSandbox over HTTP."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from portal.billing.models import CatalogItem, CreditMemo, Customer, Invoice, ReceivedPayment
from portal.db import utcnow
from sandbox.qbo import Company, ManualClock, QboSandbox, seed_company
from sandbox.qbo import writes as qbo_writes
from sync.accounting import (
    AccountingError,
    AppliedLine,
    AuthorizationLost,
    Deleted,
    Entity,
    WindowTooOld,
)
from sync.mirror import Mirror, MirrorSettings
from sync.models import QboConnection, RunStatus
from sync.quickbooks import QuickBooksAdapter
from sync.quickbooks.connection import StoredTokens
from tests.integration.qbo_fixtures import *  # noqa: F403  (fixtures)

MakeAdapter = Callable[..., QuickBooksAdapter]


def edit(sandbox: QboSandbox, change: Callable[[Company], Any]) -> Any:
    """Change the sandbox company as another QuickBooks user would, between our calls."""
    with sandbox.state.lock:
        return change(sandbox.state.companies[sandbox.state.default_realm_id or ""])


def stored(sessions: sessionmaker[Session], realm: str) -> QboConnection:
    with sessions() as s:
        row = s.get(QboConnection, realm)
        assert row is not None
        s.expunge(row)
        return row


def unpaid_invoice(company: Company) -> dict[str, Any]:
    return next(
        row
        for row in company.rows["Invoice"].values()
        if not row["LinkedTxn"] and row["Balance"] == row["TotalAmt"]
    )


def calls_for(rows: int, page_size: int) -> int:
    """Queries a full read needs: one per page, and one more only if the last page is full."""
    return rows // page_size + 1


# --- reading ---------------------------------------------------------------------------------


def test_paging_2500_invoices_costs_three_queries(
    sandbox: QboSandbox, company: Company, adapter: QuickBooksAdapter
):
    seed_company(sandbox.state, company.realm_id, customers=20, invoices=2470, rng_seed=11)
    assert len(company.rows["Invoice"]) == 2500
    pages = list(adapter.pages(Entity.INVOICE))
    assert [len(p) for p in pages] == [1000, 1000, 500]
    assert adapter.calls == 3
    rows = [r for page in pages for r in page]
    assert len({r.id for r in rows}) == 2500
    stamps = [r.updated_at for r in rows]
    assert stamps == sorted(stamps)  # oldest change first, so a resumed read loses nothing


def test_a_full_last_page_costs_one_empty_query_and_a_short_one_none(
    company: Company, make_adapter: MakeAdapter
):
    assert len(company.rows["Invoice"]) == 30
    exact = make_adapter()
    assert [len(p) for p in exact.pages(Entity.INVOICE, page_size=10)] == [10, 10, 10]
    assert exact.calls == 4
    short = make_adapter()
    assert [len(p) for p in short.pages(Entity.INVOICE, page_size=7)] == [7, 7, 7, 7, 2]
    assert short.calls == 5


def test_pages_include_inactive_customers_and_can_start_later(
    sandbox: QboSandbox, adapter: QuickBooksAdapter
):
    def deactivate(c: Company) -> None:
        row = c.rows["Customer"]["2"]
        qbo_writes.update(c, "Customer", {**row, "Active": False})

    edit(sandbox, deactivate)
    customers = [r for p in adapter.pages(Entity.CUSTOMER) for r in p]
    assert len(customers) == 8
    assert [c.active for c in customers if c.id == "2"] == [False]
    later = [r for p in adapter.pages(Entity.CUSTOMER, start=6) for r in p]
    assert later == customers[5:]


def test_pages_changed_since_a_moment(
    sandbox: QboSandbox, qbo_clock: ManualClock, adapter: QuickBooksAdapter
):
    since = qbo_clock.advance(60)
    qbo_clock.advance(1)
    edit(sandbox, lambda c: c.stamp("Invoice", c.rows["Invoice"]["5"], "Update"))
    pages = list(adapter.pages(Entity.INVOICE, changed_since=since))
    assert [[r.id for r in p] for p in pages] == [["5"]]


def test_records_carry_what_the_portal_shows(company: Company, adapter: QuickBooksAdapter):
    raw = company.rows["Customer"]["1"]
    customer = adapter.get_customer("1")
    assert customer.display_name == raw["DisplayName"]
    assert customer.email == raw["PrimaryEmailAddr"]["Address"]
    assert customer.phone == raw["PrimaryPhone"]["FreeFormNumber"]
    assert (customer.bill_city, customer.bill_region) == (
        raw["BillAddr"]["City"],
        raw["BillAddr"]["CountrySubDivisionCode"],
    )
    assert customer.balance == raw["Balance"] and customer.updated_at is not None
    invoice = adapter.get_invoice("1")
    lines = [ln for ln in company.rows["Invoice"]["1"]["Line"] if "SalesItemLineDetail" in ln]
    assert [ln.position for ln in invoice.lines] == list(range(1, len(lines) + 1))
    assert sum(ln.amount for ln in invoice.lines) == invoice.total
    assert invoice.lines[0].item_name and invoice.lines[0].qty is not None
    assert (invoice.currency, invoice.email_status, invoice.voided) == ("USD", "NotSet", False)


def test_a_voided_invoice_is_marked_voided(
    sandbox: QboSandbox, company: Company, adapter: QuickBooksAdapter
):
    row = unpaid_invoice(company)
    edit(sandbox, lambda c: qbo_writes.void(c, "Invoice", dict(row)))
    invoice = adapter.get_invoice(row["Id"])
    assert invoice.voided and invoice.total == Decimal("0.00") and invoice.balance == 0


def test_a_missing_object_is_fault_610(adapter: QuickBooksAdapter):
    with pytest.raises(AccountingError) as caught:
        adapter.get_customer("999")
    assert caught.value.code == "610"
    assert "Object Not Found" in str(caught.value)


def test_invoice_pdf_is_bytes_of_a_pdf(adapter: QuickBooksAdapter):
    pdf = adapter.invoice_pdf("1")
    assert pdf.startswith(b"%PDF")
    assert adapter.calls == 1


# --- change data capture ---------------------------------------------------------------------


def test_cdc_brings_changes_and_deletions_in_one_call(
    sandbox: QboSandbox, company: Company, qbo_clock: ManualClock, adapter: QuickBooksAdapter
):
    since = qbo_clock.advance(60)
    qbo_clock.advance(5)
    doomed = unpaid_invoice(company)
    edit(sandbox, lambda c: qbo_writes.delete(c, "Invoice", dict(doomed)))
    edit(sandbox, lambda c: c.stamp("Item", c.rows["Item"]["2"], "Update"))
    changes = adapter.changes_since([Entity.ITEM, Entity.INVOICE, Entity.CUSTOMER], since)
    assert adapter.calls == 1
    assert Deleted(Entity.INVOICE, doomed["Id"]) in changes.deleted
    assert [r.id for r in changes.records[Entity.ITEM]] == ["2"]
    # the customer's balance moved with the deletion, so QuickBooks reports it changed too
    assert [r.id for r in changes.records[Entity.CUSTOMER]] == [doomed["CustomerRef"]["value"]]
    assert not changes.truncated


def test_a_capped_cdc_answer_is_marked_truncated(
    sandbox: QboSandbox, company: Company, qbo_clock: ManualClock, adapter: QuickBooksAdapter
):
    seed_company(sandbox.state, company.realm_id, customers=1, invoices=1000, rng_seed=3)
    since = qbo_clock.advance(60)
    qbo_clock.advance(1)

    def touch_all(c: Company) -> None:
        for row in list(c.rows["Invoice"].values()):
            c.stamp("Invoice", row, "Update")

    edit(sandbox, touch_all)
    changes = adapter.changes_since([Entity.INVOICE, Entity.CUSTOMER], since)
    assert changes.size == 1000 and changes.truncated
    assert adapter.calls == 1


def test_cdc_further_back_than_30_days_is_window_too_old(
    qbo_clock: ManualClock, adapter: QuickBooksAdapter
):
    with pytest.raises(WindowTooOld):
        adapter.changes_since([Entity.INVOICE], qbo_clock() - timedelta(days=31))


# --- the mirror, end to end ------------------------------------------------------------------


def count(sessions: sessionmaker[Session], model: Any) -> int:
    with sessions() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


MIRRORED = {
    "Item": CatalogItem,
    "Customer": Customer,
    "Invoice": Invoice,
    "CreditMemo": CreditMemo,
    "Payment": ReceivedPayment,
}


def test_the_mirror_copies_a_company_and_a_second_run_changes_nothing(
    sandbox: QboSandbox,
    company: Company,
    qbo_clock: ManualClock,
    sessions: sessionmaker[Session],
    adapter: QuickBooksAdapter,
):
    first = Mirror(adapter, sessions, clock=qbo_clock).run()
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert first.api_calls == 5  # one short page per entity
    for name, model in MIRRORED.items():
        assert count(sessions, model) == len(company.rows[name]), name
    again = Mirror(adapter, sessions, clock=qbo_clock).run("full")
    assert (again.inserted, again.updated) == (0, 0)
    assert again.unchanged == first.inserted
    qbo_clock.advance(60)
    adapter.update_customer_contact("3", "new@example.com", None, "contact-3")
    incremental = Mirror(adapter, sessions, clock=qbo_clock).run()
    assert incremental.kind == "incremental" and incremental.api_calls == 1
    assert incremental.updated == 1
    with sessions() as s:
        email = s.scalar(sa.select(Customer.email).where(Customer.qbo_id == "3"))
    assert email == "new@example.com"


def test_a_page_failing_past_the_retries_stops_the_mirror_which_then_resumes(
    sandbox: QboSandbox,
    company: Company,
    qbo_clock: ManualClock,
    sessions: sessionmaker[Session],
    adapter: QuickBooksAdapter,
):
    settings = MirrorSettings(page_size=10)
    # items, customers, invoice page 1, then invoice page 2 fails five times (1 + 4 retries)
    sandbox.state.faults.fail_on_call(4, status=500, count=5)
    failed = Mirror(adapter, sessions, settings, clock=qbo_clock).run()
    assert failed.status is RunStatus.FAILED
    assert failed.error == ("QuickBooks kept answering 500 for the Invoice query after 4 retries")
    assert count(sessions, Invoice) == 10
    resumed = Mirror(adapter, sessions, settings, clock=qbo_clock).run()
    assert resumed.status is RunStatus.SUCCEEDED and resumed.kind == "full"
    assert count(sessions, Invoice) == 30
    rows = {name: len(company.rows[name]) for name in ("CreditMemo", "Payment")}
    # invoice pages 2-3 plus the empty one, credit memos, payments: items and customers not again
    assert resumed.api_calls == 3 + sum(calls_for(n, 10) for n in rows.values())


# --- tokens ----------------------------------------------------------------------------------


def test_an_expired_access_token_is_renewed_and_the_rotated_refresh_token_stored_encrypted(
    sandbox: QboSandbox,
    sessions: sessionmaker[Session],
    fernet: Fernet,
    connected: str,
    adapter: QuickBooksAdapter,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    before = stored(sessions, connected)
    old_refresh = fernet.decrypt(before.refresh_token_enc.encode()).decode()
    sandbox.state.faults.expire_access_tokens()
    assert adapter.get_customer("1").id == "1"
    assert adapter.calls == 2  # the 401, then the retry with the new token
    after = stored(sessions, connected)
    new_refresh = fernet.decrypt(after.refresh_token_enc.encode()).decode()
    assert new_refresh != old_refresh
    assert new_refresh in sandbox.state.tokens.refresh
    assert new_refresh not in after.refresh_token_enc
    assert after.access_expires_at > before.access_expires_at - timedelta(seconds=1)
    # the old refresh token must never be presented again: kill it, expire, call once more
    del sandbox.state.tokens.refresh[old_refresh]
    sandbox.state.faults.expire_access_tokens()
    assert adapter.get_customer("2").id == "2"
    assert not stored(sessions, connected).needs_reconnect
    for secret in (old_refresh, new_refresh):
        assert secret not in caplog.text


def test_a_token_expiring_within_a_minute_is_renewed_before_the_call(
    sessions: sessionmaker[Session], connected: str, adapter: QuickBooksAdapter
):
    with sessions() as s:
        row = s.get(QboConnection, connected)
        assert row is not None
        row.access_expires_at = utcnow() + timedelta(seconds=30)
        s.commit()
    assert adapter.get_customer("1").id == "1"
    assert adapter.calls == 1  # no 401 first
    assert stored(sessions, connected).access_expires_at > utcnow() + timedelta(minutes=50)


def test_two_threads_needing_a_refresh_at_once_refresh_once(
    sandbox: QboSandbox,
    sessions: sessionmaker[Session],
    connected: str,
    make_adapter: MakeAdapter,
):
    adapters = [make_adapter(), make_adapter()]  # as two jobs would have
    sandbox.state.faults.expire_access_tokens()
    minted = len(sandbox.state.tokens.access)
    start = threading.Barrier(2)
    results: list[str] = []

    def work(a: QuickBooksAdapter) -> None:
        start.wait()
        results.append(a.get_customer("1").id)

    threads = [threading.Thread(target=work, args=(a,)) for a in adapters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["1", "1"]
    assert len(sandbox.state.tokens.access) == minted + 1


def test_a_refresh_waits_for_another_process_and_uses_what_it_stored(
    sandbox: QboSandbox,
    app: Any,
    sessions: sessionmaker[Session],
    fernet: Fernet,
    connected: str,
    adapter: QuickBooksAdapter,
):
    from sync import lease

    name = f"qbo-token:{connected}"
    assert lease.acquire(sessions, name, "other-process", timedelta(minutes=1))
    sandbox.state.faults.expire_access_tokens()
    minted = len(sandbox.state.tokens.access)
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.append(adapter.get_customer("1").id))
    worker.start()
    worker.join(0.5)
    assert worker.is_alive() and not done  # waiting for the lease
    fresh = sandbox.state.connect(connected)  # the other process refreshed and stored this
    with sessions() as s:
        row = s.get(QboConnection, connected)
        assert row is not None
        row.access_token_enc = fernet.encrypt(fresh["access_token"].encode()).decode()
        row.refresh_token_enc = fernet.encrypt(fresh["refresh_token"].encode()).decode()
        row.access_expires_at = utcnow() + timedelta(hours=1)
        s.commit()
    lease.release(sessions, name, "other-process")
    worker.join(10)
    assert done == ["1"]
    assert len(sandbox.state.tokens.access) == minted + 1  # only the other process's


def test_a_revoked_refresh_token_means_authorization_lost_and_reconnect(
    sandbox: QboSandbox,
    sessions: sessionmaker[Session],
    connected: str,
    make_adapter: MakeAdapter,
):
    sandbox.state.faults.revoke_refresh_tokens()
    sandbox.state.faults.expire_access_tokens()
    with pytest.raises(AuthorizationLost) as caught:
        make_adapter().get_customer("1")
    assert "connect QuickBooks again" in str(caught.value)
    assert stored(sessions, connected).needs_reconnect
    fresh = make_adapter()
    with pytest.raises(AuthorizationLost):
        fresh.get_customer("1")  # no call at all until an admin reconnects
    assert fresh.calls == 0


def test_no_stored_connection_says_so(
    qbo_settings: Any, sessions: sessionmaker[Session], fernet: Fernet
):
    tokens = StoredTokens(qbo_settings, sessions, fernet, "404")
    with pytest.raises(AuthorizationLost, match="not connected"):
        tokens.access_token()


# --- throttling, failures, garbage -----------------------------------------------------------


def test_a_throttled_call_waits_and_then_succeeds(
    sandbox: QboSandbox, adapter: QuickBooksAdapter, waits: list[float]
):
    sandbox.state.faults.throttle_limit = 1
    adapter.get_customer("1")
    assert adapter.get_customer("2").id == "2"
    assert waits == [60]
    assert adapter.calls == 3


def test_endless_throttling_gives_up_after_max_retries(
    sandbox: QboSandbox, make_adapter: MakeAdapter, waits: list[float]
):
    sandbox.state.faults.throttle_limit = 0
    adapter = make_adapter(max_retries=2, throttle_wait_seconds=30)
    with pytest.raises(AccountingError) as caught:
        adapter.get_customer("1")
    assert str(caught.value) == (
        "QuickBooks kept answering 429 (too many requests) for reading Customer 1 after 2 retries"
    )
    assert caught.value.retryable
    assert waits == [30, 30] and adapter.calls == 3


def test_server_errors_are_retried_with_growing_pauses(
    sandbox: QboSandbox, adapter: QuickBooksAdapter, waits: list[float]
):
    sandbox.state.faults.fail_next(2, status=503)
    assert adapter.get_customer("1").id == "1"
    assert adapter.calls == 3
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0


def test_server_errors_past_the_limit_say_so_in_words(
    sandbox: QboSandbox, adapter: QuickBooksAdapter
):
    sandbox.state.faults.fail_next(10, status=503)
    with pytest.raises(AccountingError) as caught:
        adapter.get_invoice("1")
    assert (
        str(caught.value) == "QuickBooks kept answering 503 for reading Invoice 1 after 4 retries"
    )
    assert caught.value.retryable and adapter.calls == 5


def test_timeouts_are_retried_then_reported(sandbox: QboSandbox, make_adapter: MakeAdapter):
    sandbox.state.faults.latency_seconds = 1.5
    adapter = make_adapter(timeout_seconds=1, max_retries=1)
    with pytest.raises(AccountingError, match=r"kept timing out \(no answer within 1 s\)"):
        adapter.get_customer("1")
    assert adapter.calls == 2


def test_an_unreachable_server_is_retried_then_reported(make_adapter: MakeAdapter):
    adapter = make_adapter(api_base_url="http://127.0.0.1:9/v3", max_retries=1)
    with pytest.raises(AccountingError) as caught:
        adapter.get_customer("1")
    assert str(caught.value) == (
        "QuickBooks kept being unreachable (ConnectionError) for reading Customer 1 after 1 retry"
    )
    assert adapter.calls == 2


class Garbage(BaseHTTPRequestHandler):
    """Answers everything with 200 and a body that is not JSON."""

    def do_GET(self) -> None:
        body = b'{"QueryResponse": {"Customer": [' if "json" in self.path else b"<html>oops"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def garbage_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=lambda: server.serve_forever(0.05), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_that_is_not_json_is_a_clear_error(garbage_url: str, make_adapter: MakeAdapter):
    adapter = make_adapter(api_base_url=garbage_url + "/v3")
    with pytest.raises(AccountingError) as caught:
        adapter.get_customer("1")
    assert "QuickBooks answered reading Customer 1 with something that is not JSON" in str(
        caught.value
    )
    assert "<html>oops" in str(caught.value)
    truncated = make_adapter(api_base_url=garbage_url + "/json/v3")
    with pytest.raises(AccountingError, match="not JSON"):
        list(truncated.pages(Entity.CUSTOMER))
    assert truncated.calls == 1  # not retried


# --- writes ----------------------------------------------------------------------------------


def test_a_payment_recorded_twice_with_one_request_id_applies_once(
    sandbox: QboSandbox, company: Company, adapter: QuickBooksAdapter
):
    invoice = unpaid_invoice(company)
    customer_id = invoice["CustomerRef"]["value"]
    applied = [AppliedLine("Invoice", invoice["Id"], Decimal("10.00"))]

    def pay() -> Any:
        return adapter.record_payment(
            customer_id,
            applied,
            Decimal("15.00"),
            "CHK-1001",
            date(2025, 3, 1),
            "portal-payment-42",
            note="Paid in the portal",
        )

    first, second = pay(), pay()
    assert first == second
    assert (first.total, first.unapplied, first.reference) == (
        Decimal("15.00"),
        Decimal("5.00"),
        "CHK-1001",
    )
    assert first.applied == tuple(applied)
    assert adapter.get_invoice(invoice["Id"]).balance == invoice["TotalAmt"] - Decimal("10.00")
    assert len([p for p in company.rows["Payment"].values() if p.get("PaymentRefNum")]) == 1


def test_a_credit_memo_is_created_and_applied_to_an_invoice(
    company: Company, adapter: QuickBooksAdapter
):
    invoice = unpaid_invoice(company)
    customer_id = invoice["CustomerRef"]["value"]
    memo = adapter.create_credit_memo(
        customer_id, "2", Decimal("12.50"), "Outage credit", "credit-7"
    )
    assert (memo.total, memo.balance, memo.customer_id) == (
        Decimal("12.50"),
        Decimal("12.50"),
        customer_id,
    )
    payment = adapter.apply_credit(customer_id, invoice["Id"], memo.id, Decimal("12.50"), "apply-7")
    assert payment.total == Decimal("0.00")
    assert {(a.txn_type, a.txn_id) for a in payment.applied} == {
        ("Invoice", invoice["Id"]),
        ("CreditMemo", memo.id),
    }
    assert adapter.get_invoice(invoice["Id"]).balance == invoice["TotalAmt"] - Decimal("12.50")
    assert company.rows["CreditMemo"][memo.id]["RemainingCredit"] == 0


def test_a_line_is_added_even_after_someone_else_changed_the_invoice(
    sandbox: QboSandbox,
    company: Company,
    adapter: QuickBooksAdapter,
    monkeypatch: pytest.MonkeyPatch,
):
    invoice = unpaid_invoice(company)
    read = adapter._read
    reads: list[str] = []

    def read_while_someone_edits(entity: str, object_id: str) -> Any:
        row = read(entity, object_id)
        reads.append(object_id)
        if len(reads) == 1:  # a bookkeeper saves the invoice right after our first read
            edit(sandbox, lambda c: c.stamp("Invoice", c.rows["Invoice"][object_id], "Update"))
        return row

    monkeypatch.setattr(adapter, "_read", read_while_someone_edits)
    late_fee = company.find_name("Item", "Late fee")
    assert late_fee is not None
    before = adapter.get_invoice(invoice["Id"])
    after = adapter.add_invoice_line(
        invoice["Id"], late_fee, Decimal("25.00"), "Late fee", "fee-inv-1"
    )
    assert len(reads) == 2  # re-read after the 5010, then saved
    assert after.total == before.total + Decimal("25.00")
    assert [ln.description for ln in after.lines][-1] == "Late fee"
    assert len(after.lines) == len(before.lines) + 1
    again = adapter.add_invoice_line(
        invoice["Id"], late_fee, Decimal("25.00"), "Late fee", "fee-inv-1"
    )
    assert again.total == after.total  # the same request id: no second fee


def test_a_customer_contact_is_updated_sparsely(company: Company, adapter: QuickBooksAdapter):
    before = adapter.get_customer("4")
    after = adapter.update_customer_contact("4", "ada@example.com", "(555) 010-0000", "c-4")
    assert (after.email, after.phone) == ("ada@example.com", "(555) 010-0000")
    assert after.display_name == before.display_name and after.bill_city == before.bill_city
    assert int(after.sync_token) == int(before.sync_token) + 1
    only_phone = adapter.update_customer_contact("4", None, "(555) 010-1111", "c-4b")
    assert (only_phone.email, only_phone.phone) == ("ada@example.com", "(555) 010-1111")


def test_a_request_id_longer_than_50_characters_is_refused(adapter: QuickBooksAdapter):
    with pytest.raises(ValueError, match="request_id"):
        adapter.update_customer_contact("4", "a@example.com", None, "x" * 51)
    assert adapter.calls == 0


def test_a_line_is_added_to_an_invoice_with_cents_in_its_amounts(
    company: Company, adapter: QuickBooksAdapter
):
    invoice = unpaid_invoice(company)
    late_fee = company.find_name("Item", "Late fee")
    assert late_fee is not None
    before = adapter.get_invoice(invoice["Id"])
    first = adapter.add_invoice_line(invoice["Id"], late_fee, Decimal("7.35"), "Fee", "c-1")
    # The invoice read back now holds amounts with cents (Decimals) and is sent again whole.
    second = adapter.add_invoice_line(invoice["Id"], late_fee, Decimal("0.10"), "Fee", "c-2")
    assert first.total == before.total + Decimal("7.35")
    assert second.total == before.total + Decimal("7.45")
    assert second.balance == before.balance + Decimal("7.45")


def test_fields_the_portal_does_not_know_are_ignored_not_fatal(
    sandbox: QboSandbox, company: Company, adapter: QuickBooksAdapter
):
    invoice = unpaid_invoice(company)

    def add_unknown_fields(c: Company) -> None:
        row = c.rows["Invoice"][invoice["Id"]]
        row["ProjectRef"] = {"value": "77"}
        row["CustomerMemo"] = {"value": "new in a later minorversion"}
        row["Line"][0]["NewDetailField"] = [1, 2, 3]

    edit(sandbox, add_unknown_fields)
    mapped = adapter.get_invoice(invoice["Id"])
    assert mapped.id == invoice["Id"] and mapped.total == invoice["TotalAmt"]
    pages = [r for page in adapter.pages(Entity.INVOICE) for r in page]
    assert any(r.id == invoice["Id"] for r in pages)
