"""The accounting adapter for QuickBooks Online (python-quickbooks + intuit-oauth).

Only raw JSON goes through the SDK (query, get, change_data_capture, download_pdf, create
and update); it is mapped to our records in sync.quickbooks.mapping, so no SDK object
leaves this module.
`calls` counts HTTP requests to the data API, retries included; OAuth requests (discovery,
token refresh, revoke) are not counted: they are not billed against the API limits."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from quickbooks.mixins import DecimalEncoder

from portal.config import QuickBooksSettings
from sync.accounting import (
    MAX_BATCH,
    AccountingError,
    AppliedLine,
    ChangeSet,
    ConflictingChange,
    CreditMemoRecord,
    CustomerRecord,
    Deleted,
    Details,
    Entity,
    InvoiceRecord,
    PaymentRecord,
    PaymentWrite,
    Record,
    StaleObject,
    WindowTooOld,
    check_details,
    conflicts,
    same_detail,
)
from sync.quickbooks import mapping
from sync.quickbooks.client import (
    QboClient,
    Retrier,
    TokenSource,
    allow_plain_http_on_loopback,
    build_client,
    item_fault,
)

logger = logging.getLogger(__name__)

R = TypeVar("R")
Obj = dict[str, Any]

MAX_PAGE = 1000
CDC_LIMIT = 1000  # CDC answers at most this many objects in all, without paging
MAX_REQUEST_ID = 50
STALE_TRIES = 4  # a busy invoice edited in the office while we add a line
# Inactive name-list rows are hidden from queries unless the query mentions Active.
NAME_LISTS = (Entity.CUSTOMER, Entity.ITEM)


class QuickBooksAdapter:
    """One QuickBooks Online company through the AccountingAdapter interface."""

    def __init__(
        self,
        settings: QuickBooksSettings,
        realm_id: str,
        tokens: TokenSource,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        allow_plain_http_on_loopback(settings.api_base_url)
        self.settings = settings
        self.realm_id = realm_id
        self.calls = 0
        self._lock = threading.Lock()
        self._client: tuple[str, QboClient] | None = None
        self._retrier = Retrier(settings, tokens, self._client_for, sleep)

    def _counted(self) -> None:
        with self._lock:
            self.calls += 1

    def _client_for(self, access_token: str) -> QboClient:
        """The client for this token; rebuilt after a refresh (its session keeps the old one)."""
        with self._lock:
            if self._client is None or self._client[0] != access_token:
                client = build_client(self.settings, self.realm_id, access_token, self._counted)
                self._client = (access_token, client)
            return self._client[1]

    # --- reads ----------------------------------------------------------------------------

    def pages(
        self,
        entity: Entity,
        page_size: int = MAX_PAGE,
        start: int = 1,
        changed_since: datetime | None = None,
    ) -> Iterator[Sequence[Record]]:
        """Pages, oldest change first; a short page ends the read, so an empty query follows
        only a last page that happens to be exactly full."""
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1 to {MAX_PAGE}, not {page_size}")
        if changed_since is not None and changed_since.tzinfo is None:
            raise ValueError("changed_since needs an aware datetime")
        while True:
            rows = self._query(entity, select_statement(entity, page_size, start, changed_since))
            if rows:
                yield [self._mapped(mapping.TO_RECORD[entity], row, entity.value) for row in rows]
            if len(rows) < page_size:
                return
            start += page_size

    def _query(self, entity: Entity, sql: str) -> list[Obj]:
        what = f"the {entity.value} query"
        result = self._retrier.run(what, lambda c: c.query(sql))
        rows: list[Obj] = _part(result, "QueryResponse", what).get(entity.value, [])
        return rows

    def changes_since(self, entities: Sequence[Entity], since: datetime) -> ChangeSet:
        """One CDC call for all entities; `truncated` when QuickBooks hit its 1000-object cap."""
        if since.tzinfo is None:
            raise ValueError("changes_since needs an aware datetime")
        names = ",".join(e.value for e in entities)
        # an ISO string with its offset: python-quickbooks' own datetime formatting drops it
        stamp = since.isoformat(timespec="seconds")
        try:
            result = self._retrier.run(
                "change data capture", lambda c: c.change_data_capture(names, stamp)
            )
        except AccountingError as exc:
            if _too_far_back(str(exc)):
                raise WindowTooOld(str(exc), code=exc.code) from exc
            raise
        try:
            return self._change_set(entities, _part(result, "CDCResponse", "change data capture"))
        except (AttributeError, TypeError) as exc:
            raise AccountingError(
                f"QuickBooks answered change data capture in a shape we cannot read: {exc}"
            ) from exc

    def _change_set(self, entities: Sequence[Entity], blocks: Any) -> ChangeSet:
        changes = ChangeSet(records={e: [] for e in entities})
        wanted = {e.value: e for e in entities}
        for block in blocks:
            for answer in block.get("QueryResponse", []):
                for name, rows in answer.items():
                    if name in wanted and isinstance(rows, list):
                        self._collect(changes, wanted[name], rows)
        changes.truncated = changes.size >= CDC_LIMIT
        return changes

    def _collect(self, changes: ChangeSet, entity: Entity, rows: list[Obj]) -> None:
        for row in rows:
            if row.get("status") == "Deleted":
                changes.deleted.append(Deleted(entity, str(row["Id"])))
            else:
                record = self._mapped(mapping.TO_RECORD[entity], row, entity.value)
                changes.records[entity].append(record)

    def get_customer(self, customer_id: str) -> CustomerRecord:
        """One customer, fresh."""
        return self._mapped(mapping.customer, self._read("Customer", customer_id), "Customer")

    def get_invoice(self, invoice_id: str) -> InvoiceRecord:
        """One invoice, fresh."""
        return self._mapped(mapping.invoice, self._read("Invoice", invoice_id), "Invoice")

    def invoice_pdf(self, invoice_id: str) -> bytes:
        """The invoice as QuickBooks prints it."""
        what = f"the PDF of Invoice {invoice_id}"
        pdf = self._retrier.run(what, lambda c: c.download_pdf("Invoice", invoice_id))
        if not isinstance(pdf, bytes) or not pdf.startswith(b"%PDF"):
            raise AccountingError(f"QuickBooks answered {what} with something that is not a PDF")
        return pdf

    def find_payments(self, customer_id: str, reference: str) -> list[PaymentRecord]:
        """The customer's Payments with this PaymentRefNum (queried by customer, filtered here:
        CustomerRef is a filterable field of Payment, PaymentRefNum is not documented as one)."""
        if not customer_id.isdigit():
            raise ValueError(f"not a QuickBooks customer Id: {customer_id!r}")
        found: list[PaymentRecord] = []
        start = 1
        while True:
            sql = (
                f"SELECT * FROM Payment WHERE CustomerRef = '{customer_id}' "  # noqa: S608  (digits)
                f"STARTPOSITION {start} MAXRESULTS {MAX_PAGE}"
            )
            rows = self._query(Entity.PAYMENT, sql)
            for row in rows:
                record = self._mapped(mapping.payment, row, "Payment")
                if record.reference == reference:
                    found.append(record)
            if len(rows) < MAX_PAGE:
                return found
            start += MAX_PAGE

    def company_name(self) -> str:
        """CompanyInfo.CompanyName (its LegalName when the name is blank)."""
        info = self._read("CompanyInfo", self.realm_id)
        return str(info.get("CompanyName") or info.get("LegalName") or "").strip()

    def _read(self, entity: str, object_id: str) -> Obj:
        what = f"reading {entity} {object_id}"
        result = self._retrier.run(what, lambda c: c.get_single_object(entity, object_id))
        found: Obj = _part(result, entity, what)
        return found

    # --- writes (each idempotent through its request id) ------------------------------------

    def record_payment(
        self,
        customer_id: str,
        applied: Sequence[AppliedLine],
        total: Decimal,
        reference: str | None,
        txn_date: date,
        request_id: str,
        deposit_account_id: str | None = None,
        payment_method_id: str | None = None,
        note: str | None = None,
    ) -> PaymentRecord:
        """Record a payment received, applied to invoices (and credit memos)."""
        body = mapping.payment_body(
            customer_id,
            applied,
            total,
            txn_date,
            reference,
            deposit_account_id,
            payment_method_id,
            note,
        )
        saved = self._write("Payment", body, request_id, f"the payment of customer {customer_id}")
        return self._mapped(mapping.payment, saved, "Payment")

    def record_payments(
        self, batch: Sequence[PaymentWrite], request_id: str
    ) -> list[PaymentRecord | AccountingError]:
        """Record up to MAX_BATCH payments in one POST /batch; item faults come back in place."""
        _check_batch(batch)
        _check_request_id(request_id)
        if not batch:
            return []
        body = mapping.batch_body([(w.bid, _payment_body(w)) for w in batch])
        payload = json.dumps(body, cls=DecimalEncoder)
        what = f"a batch of {len(batch)} payments"
        # the whole batch carries the request id: a repeat replays the first answer
        result = self._retrier.run(what, lambda c: c.batch(payload, request_id))
        try:
            answers = mapping.batch_answers(_part(result, "BatchItemResponse", what))
        except TypeError as exc:
            raise AccountingError(f"QuickBooks answered {what} in a shape we cannot read") from exc
        return [self._batch_item(answers.get(w.bid), w.bid) for w in batch]

    def _batch_item(self, answer: Obj | None, bid: str) -> PaymentRecord | AccountingError:
        """One item's answer: its Payment, or its fault as an error."""
        what = f"batch item {bid}"
        if answer is None or ("Fault" not in answer and "Payment" not in answer):
            return AccountingError(f"QuickBooks answered the batch without {what}")
        if "Fault" in answer:
            return item_fault(answer["Fault"], what)
        try:
            return self._mapped(mapping.payment, answer["Payment"], "Payment")
        except AccountingError as exc:
            return exc

    def apply_credit(
        self,
        customer_id: str,
        invoice_id: str,
        credit_memo_id: str,
        amount: Decimal,
        request_id: str,
    ) -> PaymentRecord:
        """Apply a credit memo to an invoice: a zero-total payment linking both."""
        applied = [
            AppliedLine("Invoice", invoice_id, amount),
            AppliedLine("CreditMemo", credit_memo_id, amount),
        ]
        body = mapping.payment_body(customer_id, applied, Decimal("0"), None)
        what = f"applying CreditMemo {credit_memo_id} to Invoice {invoice_id}"
        saved = self._write("Payment", body, request_id, what)
        return self._mapped(mapping.payment, saved, "Payment")

    def create_credit_memo(
        self,
        customer_id: str,
        item_id: str,
        amount: Decimal,
        description: str | None,
        request_id: str,
    ) -> CreditMemoRecord:
        """A credit memo of one line for a customer."""
        body = {
            "CustomerRef": {"value": customer_id},
            "Line": [mapping.sales_line(item_id, amount, description)],
        }
        what = f"a credit memo for customer {customer_id}"
        saved = self._write("CreditMemo", body, request_id, what)
        return self._mapped(mapping.credit_memo, saved, "CreditMemo")

    def add_invoice_line(
        self,
        invoice_id: str,
        item_id: str,
        amount: Decimal,
        description: str | None,
        request_id: str,
    ) -> InvoiceRecord:
        """Append a line (a late fee, say) to an invoice by a full update."""
        line = mapping.sales_line(item_id, amount, description)

        def attempt(rid: str) -> Obj:
            body = mapping.with_line(self._read("Invoice", invoice_id), line)
            return self._write("Invoice", body, rid, f"adding a line to Invoice {invoice_id}")

        return self._mapped(mapping.invoice, self._unless_stale(attempt, request_id), "Invoice")

    def update_customer_contact(
        self, customer_id: str, email: str | None, phone: str | None, request_id: str
    ) -> CustomerRecord:
        """Change a customer's e-mail address and phone (None leaves one unchanged)."""

        def attempt(rid: str) -> Obj:
            body = mapping.contact_body(self._read("Customer", customer_id), email, phone)
            return self._write("Customer", body, rid, f"the contact of customer {customer_id}")

        return self._mapped(mapping.customer, self._unless_stale(attempt, request_id), "Customer")

    def update_customer_details(
        self, customer_id: str, changes: Details, seen: Details, request_id: str
    ) -> CustomerRecord:
        """A sparse update of the changed details on a fresh read, compared first with what
        the portal saw; on 5010 read again and compare again (see AccountingAdapter)."""
        check_details(changes, seen)
        what = f"the details of customer {customer_id}"

        def attempt(rid: str) -> Obj:
            current = self._read("Customer", customer_id)
            record = self._mapped(mapping.customer, current, "Customer")
            theirs = conflicts(record, changes, seen)
            if theirs:
                raise ConflictingChange(
                    f"QuickBooks changed {', '.join(sorted(theirs))} of customer "
                    f"{customer_id} since the portal read it",
                    theirs,
                )
            if all(same_detail(getattr(record, k), v) for k, v in changes.items()):
                return current  # already so (an earlier try whose answer was lost): no write
            return self._write("Customer", mapping.details_body(current, changes), rid, what)

        return self._mapped(mapping.customer, self._unless_stale(attempt, request_id), "Customer")

    def _unless_stale(self, attempt: Callable[[str], Obj], request_id: str) -> Obj:
        """Try again on 5010 (someone changed the row since we read it), re-reading it each
        time, up to STALE_TRIES tries in all."""
        _check_request_id(request_id)
        rid = request_id
        for n in range(2, STALE_TRIES + 2):
            try:
                return attempt(rid)
            except AccountingError as exc:
                if not isinstance(exc, StaleObject) or n > STALE_TRIES:
                    raise
                logger.info("stale SyncToken in %s; re-reading and trying again", self.realm_id)
            # QuickBooks replays the answer to a request id it has seen (here: the 5010), so
            # the next try needs its own id; derived, so a repeat of the whole call replays too
            rid = f"{request_id[: MAX_REQUEST_ID - 3]}-r{n}"
        raise AssertionError("unreachable")

    def _write(self, entity: str, body: Obj, request_id: str, what: str) -> Obj:
        _check_request_id(request_id)
        # Amounts read back are Decimals; the library's own encoder sends them as it does.
        payload = json.dumps(body, cls=DecimalEncoder)
        # create and update are both POST /<entity>; QuickBooks tells them apart by the Id
        result = self._retrier.run(
            what, lambda c: c.update_object(entity, payload, request_id=request_id)
        )
        saved: Obj = _part(result, entity, what)
        return saved

    @staticmethod
    def _mapped(to_record: Callable[[Obj], R], obj: Obj, entity: str) -> R:
        """Map an object, turning a shape we cannot read into a clear error."""
        try:
            return to_record(obj)
        except (KeyError, ValueError, TypeError, ArithmeticError, AttributeError) as exc:
            object_id = obj.get("Id") if isinstance(obj, dict) else None
            raise AccountingError(
                f"QuickBooks sent a {entity} (Id {object_id}) we cannot read: {exc!r}"
            ) from exc


def select_statement(
    entity: Entity, page_size: int, start: int, changed_since: datetime | None
) -> str:
    """The query of one page, oldest change first."""
    terms = ["Active IN (true, false)"] if entity in NAME_LISTS else []
    if changed_since is not None:
        terms.append(f"MetaData.LastUpdatedTime >= '{changed_since.isoformat(timespec='seconds')}'")
    where = f" WHERE {' AND '.join(terms)}" if terms else ""
    # built only from an enum, integers and a formatted datetime: nothing to inject
    return (
        f"SELECT * FROM {entity.value}{where} ORDERBY MetaData.LastUpdatedTime "  # noqa: S608
        f"STARTPOSITION {start} MAXRESULTS {page_size}"
    )


def _too_far_back(message: str) -> bool:
    """The CDC fault for a changedSince past 30 days (QuickBooks says "older than fixed days")."""
    text = message.lower()
    return "changedsince" in text and ("older than" in text or "30 days" in text)


def _payment_body(write: PaymentWrite) -> Obj:
    return mapping.payment_body(
        write.customer_id,
        write.applied,
        write.total,
        write.txn_date,
        write.reference,
        write.deposit_account_id,
        write.payment_method_id,
        write.note,
    )


def _check_batch(batch: Sequence[PaymentWrite]) -> None:
    if len(batch) > MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} items, not {len(batch)}")
    bids = [w.bid for w in batch]
    if len(set(bids)) != len(bids) or not all(bids):
        raise ValueError("every batch item needs its own non-empty bid")


def _check_request_id(request_id: str) -> None:
    if not 0 < len(request_id) <= MAX_REQUEST_ID:
        raise ValueError(f"request_id must be 1 to {MAX_REQUEST_ID} characters")


def _part(result: Any, key: str, what: str) -> Any:
    """A top-level part of an answer, or a clear error when it is missing."""
    if not isinstance(result, dict) or key not in result:
        raise AccountingError(f"QuickBooks answered {what} without {key}")
    return result[key]
