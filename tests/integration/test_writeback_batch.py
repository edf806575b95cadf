"""Payments are written back to QuickBooks in batches of up to 30, exactly once."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

import sync.writeback  # noqa: F401  (registers the write-back handlers and the batcher)
from portal import outbox as portal_outbox
from portal.billing.models import Customer, Invoice
from portal.db import utcnow
from portal.outbox import OutboxMessage, OutboxStatus
from portal.payments import service
from portal.payments.fake import FakeGateway
from portal.payments.gateway import Token
from portal.payments.models import MethodKind, Payment
from portal.payments.service import Method
from sandbox.qbo import Company, ManualClock, QboSandbox, seed_company
from sync import outbox
from sync.accounting import (
    AccountingError,
    AppliedLine,
    Entity,
    PaymentRecord,
    PaymentWrite,
)
from sync.fake import FakeAccounting
from sync.mirror import Mirror
from sync.quickbooks import QuickBooksAdapter
from tests import records as rec
from tests.integration.qbo_fixtures import *  # noqa: F403  (sandbox, connected, adapter, ...)

# the payment service renders receipt e-mails, which needs the app
pytestmark = pytest.mark.usefixtures("app_ctx")

# --- helpers ----------------------------------------------------------------------------------


def card() -> Method:
    return Method(MethodKind.CARD, token=Token("COMMON.ACCEPT.INAPP.PAYMENT", secrets.token_hex(8)))


GATEWAY = FakeGateway()  # one processor: transaction ids are unique, as real ones are


def pay(sessions: sessionmaker[Session], customer_id: int, amounts: dict[int, str]) -> int:
    """One portal payment through the real service (fake card processor); its id."""
    method = card()
    with sessions() as s:
        payment = service.start(s, customer_id, None, amounts, secrets.token_urlsafe(18), method)
        s.commit()
        payment_id = payment.id
    service.charge(sessions, GATEWAY, payment_id, method)
    return payment_id


def messages(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as s:
        rows = list(s.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))
        s.expunge_all()
        return rows


def later(minutes: int) -> Callable[[], datetime]:
    """A drain clock past every claim and back-off so far."""
    return lambda: utcnow() + timedelta(minutes=minutes)


def qbo_payment_ids(sessions: sessionmaker[Session]) -> list[str | None]:
    with sessions() as s:
        return list(s.scalars(sa.select(Payment.qbo_payment_id).order_by(Payment.id)))


# --- with the in-memory adapter ---------------------------------------------------------------


@pytest.fixture
def fake() -> FakeAccounting:
    return FakeAccounting("test")


def open_invoices(sessions: sessionmaker[Session], fake: FakeAccounting, n: int) -> dict[str, int]:
    """Ada (QuickBooks id 1) owing n invoices of $100, in the mirror and in the fake."""
    fake.put(rec.customer("1", "Ada"))
    with sessions() as s:
        ada = Customer(realm_id="test", qbo_id="1", display_name="Ada", balance=100 * n)
        s.add(ada)
        s.flush()
        for k in range(n):
            fake.put(rec.invoice(f"inv{k}", "1", "100.00"))
            s.add(
                Invoice(
                    realm_id="test",
                    qbo_id=f"inv{k}",
                    customer_id=ada.id,
                    txn_date=date(2026, 1, 1),
                    total_amt=Decimal("100.00"),
                    balance=Decimal("100.00"),
                )
            )
        s.commit()
        return {"ada": ada.id} | {
            qbo_id: invoice_id
            for qbo_id, invoice_id in s.execute(sa.select(Invoice.qbo_id, Invoice.id))
        }


def pay_each(sessions: sessionmaker[Session], world: dict[str, int], n: int) -> list[int]:
    """One payment per invoice, in full."""
    return [pay(sessions, world["ada"], {world[f"inv{k}"]: "100.00"}) for k in range(n)]


def test_65_queued_payments_drain_in_three_batch_calls(sessions, fake):
    world = open_invoices(sessions, fake, 65)
    pay_each(sessions, world, 65)
    result = outbox.drain(sessions, lambda realm: fake)
    assert (result.done, result.retried, result.parked) == (65, 0, 0)
    assert fake.batch_calls == 3 and fake.calls == 3
    assert len(fake.rows[Entity.PAYMENT]) == 65
    assert all(fake.rows[Entity.INVOICE][f"inv{k}"].balance == 0 for k in range(65))
    rows = messages(sessions)
    assert sorted(len([m for m in rows if m.batch_key == k]) for k in fake.batch_replies) == [
        5,
        30,
        30,
    ]
    assert all(m.status is OutboxStatus.DONE and m.result_ref for m in rows)
    assert qbo_payment_ids(sessions) == [m.result_ref for m in rows]


def test_a_lost_batch_answer_is_resent_with_the_same_key_and_duplicates_nothing(sessions, fake):
    world = open_invoices(sessions, fake, 5)
    pay_each(sessions, world, 5)
    fake.lose_batch_answers = 1  # QuickBooks applies the batch; its answer never arrives
    first = outbox.drain(sessions, lambda realm: fake)
    assert (first.done, first.retried) == (0, 5)
    assert len(fake.rows[Entity.PAYMENT]) == 5
    [key] = {m.batch_key for m in messages(sessions)}
    again = outbox.drain(sessions, lambda realm: fake, now=later(5))
    assert again.done == 5
    assert list(fake.batch_replies) == [key]  # the same request id both times
    assert len(fake.rows[Entity.PAYMENT]) == 5
    assert sorted(qbo_payment_ids(sessions)) == sorted(p for p in fake.rows[Entity.PAYMENT])


class DiesAfterTheCall:
    """The worker dies once QuickBooks has answered a batch, before anything is committed."""

    def __init__(self, inner: FakeAccounting) -> None:
        self.inner = inner
        self.realm_id = inner.realm_id
        self.sent: list[list[str]] = []
        self.die = True

    def record_payments(
        self, batch: Sequence[PaymentWrite], request_id: str
    ) -> list[PaymentRecord | AccountingError]:
        self.sent.append([w.bid for w in batch])
        answers = self.inner.record_payments(batch, request_id)
        if self.die:
            self.die = False
            raise SystemExit("killed after the batch call")
        return answers


def test_a_crash_after_the_batch_call_resends_exactly_its_members_under_the_same_key(
    sessions, fake
):
    world = open_invoices(sessions, fake, 7)
    pay_each(sessions, world, 7)
    dying = DiesAfterTheCall(fake)
    with pytest.raises(SystemExit):
        outbox.drain(sessions, lambda realm: dying)
    assert len(fake.rows[Entity.PAYMENT]) == 7  # written, but nothing recorded here
    assert outbox.drain(sessions, lambda realm: dying).done == 0  # still claimed
    result = outbox.drain(sessions, lambda realm: dying, now=later(3))
    assert result.done == 7
    assert dying.sent[0] == dying.sent[1] == [str(m.id) for m in messages(sessions)]
    assert len(fake.batch_replies) == 1 and len(fake.rows[Entity.PAYMENT]) == 7


def test_a_faulting_item_is_retried_alone_and_the_others_are_done(sessions, fake):
    world = open_invoices(sessions, fake, 4)
    pay_each(sessions, world, 4)
    odd = messages(sessions)[1]
    fake.item_faults[str(odd.id)] = AccountingError("system hiccup", code="10000", retryable=True)
    first = outbox.drain(sessions, lambda realm: fake)
    assert (first.done, first.retried, first.parked) == (3, 1, 0)
    row = next(m for m in messages(sessions) if m.id == odd.id)
    assert row.status is OutboxStatus.PENDING and row.batch_key is None
    assert "system hiccup" in (row.last_error or "")
    again = outbox.drain(sessions, lambda realm: fake, now=later(5))
    assert again.done == 1
    assert fake.batch_calls == 1  # retried alone, under its own request id
    assert odd.request_id in fake.replies
    assert len(fake.rows[Entity.PAYMENT]) == 4
    assert all(m.status is OutboxStatus.DONE for m in messages(sessions))


def test_an_item_refused_for_good_is_parked_alone_and_an_admin_retry_sends_it_alone(sessions, fake):
    world = open_invoices(sessions, fake, 3)
    pay_each(sessions, world, 3)
    odd = messages(sessions)[0]
    fake.item_faults[str(odd.id)] = AccountingError("Required param missing", code="2020")
    first = outbox.drain(sessions, lambda realm: fake)
    assert (first.done, first.parked) == (2, 1)
    with sessions() as s:
        assert portal_outbox.retry(s, odd.id)
        s.commit()
    assert outbox.drain(sessions, lambda realm: fake).done == 1
    # refused outright, so nothing was written: the retry is a new request (not a replay of
    # the refusal), sent alone
    assert fake.batch_calls == 1 and f"{odd.request_id}-g1" in fake.replies


def test_an_item_whose_invoice_was_paid_meanwhile_takes_the_fallback_at_once(sessions, fake):
    world = open_invoices(sessions, fake, 3)
    paid = pay_each(sessions, world, 3)
    # Someone records a payment for inv1 in QuickBooks; the mirror has not seen it yet.
    fake.record_payment(
        "1",
        [AppliedLine("Invoice", "inv1", Decimal("100.00"))],
        Decimal("100.00"),
        "cheque 7",
        date(2026, 1, 10),
        "office-1",
    )
    result = outbox.drain(sessions, lambda realm: fake)
    assert (result.done, result.retried, result.parked) == (3, 0, 0)
    with sessions() as s:
        fallback = s.get(Payment, paid[1])
        assert fallback is not None and "$100.00 was left unapplied" in (fallback.review_note or "")
    portal = [p for p in fake.rows[Entity.PAYMENT].values() if p.reference != "cheque 7"]
    assert len(portal) == 3 and all(p.id in qbo_payment_ids(sessions) for p in portal)


# --- with the real adapter against the QuickBooks sandbox -------------------------------------


@pytest.fixture
def company(sandbox: QboSandbox) -> Company:
    """A seeded company with enough open invoices for two batches."""
    return seed_company(sandbox.state, customers=30, invoices=200, rng_seed=11)


@pytest.fixture
def mirrored(adapter: QuickBooksAdapter, sessions, qbo_clock: ManualClock) -> None:
    run = Mirror(adapter, sessions, clock=qbo_clock).run("full")
    assert run.error is None, run.error


def pay_open_invoices(sessions: sessionmaker[Session], n: int) -> dict[str, Decimal]:
    """One payment per open mirrored invoice, in full, for n invoices; qbo id → amount."""
    with sessions() as s:
        rows = s.execute(
            sa.select(Invoice.customer_id, Invoice.id, Invoice.qbo_id, Invoice.balance)
            .where(Invoice.balance > 0, Invoice.voided.is_(False), Invoice.deleted.is_(False))
            .order_by(Invoice.id)
            .limit(n)
        ).all()
    assert len(rows) == n, "the seeded company has too few open invoices"
    for customer_id, invoice_id, _qbo_id, balance in rows:
        pay(sessions, customer_id, {invoice_id: f"{balance:.2f}"})
    return {qbo_id: balance for _c, _i, qbo_id, balance in rows}


def sandbox_balances(company: Company, sandbox: QboSandbox, ids: list[str]) -> dict[str, Decimal]:
    with sandbox.state.lock:
        return {i: Decimal(str(company.rows["Invoice"][i]["Balance"])) for i in ids}


def sandbox_payments(company: Company, sandbox: QboSandbox) -> int:
    with sandbox.state.lock:
        return len(company.rows["Payment"])


@pytest.mark.usefixtures("mirrored")
def test_31_payments_are_two_batch_calls_and_each_invoice_is_lowered_once(
    sessions, adapter, company, sandbox
):
    paid = pay_open_invoices(sessions, 31)
    before = sandbox_balances(company, sandbox, list(paid))
    payments, calls = sandbox_payments(company, sandbox), adapter.calls
    result = outbox.drain(sessions, lambda realm: adapter)
    assert (result.done, result.retried, result.parked) == (31, 0, 0), result.errors
    assert adapter.calls - calls == 2
    assert sandbox_payments(company, sandbox) == payments + 31
    after = sandbox_balances(company, sandbox, list(paid))
    assert {i: before[i] - after[i] for i in paid} == paid
    assert len({m.batch_key for m in messages(sessions)}) == 2
    ids = qbo_payment_ids(sessions)
    assert all(ids) and len(set(ids)) == 31
    # the "done" commits lost: the drain resends both batches and QuickBooks replays them
    with sessions() as s:
        s.execute(sa.update(OutboxMessage).values(status=OutboxStatus.PENDING))
        s.commit()
    assert outbox.drain(sessions, lambda realm: adapter, now=later(3)).done == 31
    assert sandbox_payments(company, sandbox) == payments + 31
    assert sandbox_balances(company, sandbox, list(paid)) == after
    assert qbo_payment_ids(sessions) == ids


@pytest.mark.usefixtures("mirrored")
def test_a_repeated_batch_request_id_returns_the_first_answer(adapter, company, sandbox):
    with sandbox.state.lock:
        invoice = next(i for i in company.rows["Invoice"].values() if Decimal(i["Balance"]) > 0)
    write = PaymentWrite(
        bid="1",
        customer_id=invoice["CustomerRef"]["value"],
        applied=(AppliedLine("Invoice", invoice["Id"], Decimal("1.00")),),
        total=Decimal("1.00"),
        reference="cheque 1",
        txn_date=date(2026, 1, 10),
    )
    payments = sandbox_payments(company, sandbox)
    [first] = adapter.record_payments([write], "bench-batch-1")
    [again] = adapter.record_payments([write], "bench-batch-1")
    assert isinstance(first, PaymentRecord) and again == first
    assert sandbox_payments(company, sandbox) == payments + 1
    [other] = adapter.record_payments([write], "bench-batch-2")
    assert isinstance(other, PaymentRecord) and other.id != first.id


@pytest.mark.usefixtures("mirrored")
def test_a_faulting_batch_item_comes_back_in_its_place(adapter, company, sandbox):
    with sandbox.state.lock:
        invoice = next(i for i in company.rows["Invoice"].values() if Decimal(i["Balance"]) > 0)
    good = PaymentWrite(
        bid="a",
        customer_id=invoice["CustomerRef"]["value"],
        applied=(AppliedLine("Invoice", invoice["Id"], Decimal("1.00")),),
        total=Decimal("1.00"),
        reference=None,
        txn_date=date(2026, 1, 10),
    )
    bad = PaymentWrite("b", "999999", (), Decimal("5.00"), None, date(2026, 1, 10))
    answers = adapter.record_payments([bad, good], "faulty-batch-1")
    assert isinstance(answers[0], AccountingError) and answers[0].code
    assert isinstance(answers[1], PaymentRecord)


@pytest.mark.usefixtures("mirrored")
def test_a_5xx_on_the_batch_call_is_retried(sessions, adapter, company, sandbox, waits):
    pay_open_invoices(sessions, 3)
    payments, calls = sandbox_payments(company, sandbox), adapter.calls
    sandbox.state.faults.fail_next(1, 503)
    result = outbox.drain(sessions, lambda realm: adapter)
    assert (result.done, result.retried) == (3, 0)
    assert adapter.calls - calls == 2 and len(waits) == 1
    assert sandbox_payments(company, sandbox) == payments + 3


@pytest.mark.usefixtures("mirrored")
def test_a_429_storm_on_the_batch_call_waits_and_succeeds(
    sessions, adapter, company, sandbox, waits
):
    pay_open_invoices(sessions, 3)
    payments, calls = sandbox_payments(company, sandbox), adapter.calls
    sandbox.state.faults.fail_next(3, 429)
    result = outbox.drain(sessions, lambda realm: adapter)
    assert (result.done, result.retried) == (3, 0)
    assert waits == [60.0, 60.0, 60.0]
    assert adapter.calls - calls == 4
    assert sandbox_payments(company, sandbox) == payments + 3


def test_a_payment_is_dated_on_the_companys_business_day_not_utcs(sessions, fake):
    from datetime import UTC

    from sync.models import SyncState

    world = open_invoices(sessions, fake, 1)
    [paid] = pay_each(sessions, world, 1)
    with sessions() as s:
        s.add(SyncState(realm_id="test", timezone="-08:00"))  # California, as QuickBooks says
        s.get(Payment, paid).charged_at = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)  # 7 pm there
        s.commit()
    assert outbox.drain(sessions, lambda realm: fake).done == 1
    [written] = fake.rows[Entity.PAYMENT].values()
    assert written.txn_date == date(2026, 2, 28)
