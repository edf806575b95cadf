"""Benchmark: paying invoices and writing the payments back to QuickBooks.

(a) one payment of 25 invoices through the payment service, written back: card-processor
calls and QuickBooks calls (writes and reads); (b) draining 1,000 queued payments in batches
of 30 against the one-at-a-time drain measured in the same run.

    .venv/bin/python bench/payments_bench.py                       # 1,000 payments
    .venv/bin/python bench/payments_bench.py --payments 200        # quick

Each QuickBooks company is a sandbox in its own process (as QuickBooks would be), reached
through the real OAuth round trip and the real python-quickbooks adapter; the portal side is
a fresh SQLite file mirrored from it. No timing is asserted: the table is for reading."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sync.handlers  # noqa: E402, F401  (registers the write-back handlers and the batcher)
from bench import mirror_bench  # noqa: E402
from portal.billing.models import Invoice  # noqa: E402
from portal.outbox import OutboxMessage, OutboxStatus  # noqa: E402
from portal.payments import service  # noqa: E402
from portal.payments.fake import FakeGateway  # noqa: E402
from portal.payments.gateway import Token  # noqa: E402
from portal.payments.models import MethodKind  # noqa: E402
from portal.payments.service import Method  # noqa: E402
from sync import outbox  # noqa: E402
from sync.accounting import MAX_BATCH, AccountingError  # noqa: E402
from sync.mirror import Mirror  # noqa: E402
from sync.service import mirror_settings  # noqa: E402

WRITES = frozenset({"record_payment", "record_payments", "apply_credit", "create_credit_memo"})
VISA = "4111111111111111"


@dataclass
class Row:
    """One line of the table."""

    label: str
    gateway_calls: int | None
    qbo_calls: int
    writes: int
    reads: int
    goal: str
    seconds: float
    payments: int


class Counting:
    """The real adapter, with its `calls` split into writes and reads by method."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.realm_id = inner.realm_id
        self.writes = 0
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if not callable(method):
            return method

        def counted(*args: Any, **kwargs: Any) -> Any:
            before = self.inner.calls
            try:
                return method(*args, **kwargs)
            finally:
                spent = self.inner.calls - before
                if name in WRITES:
                    self.writes += spent
                else:
                    self.reads += spent

        return counted

    @property
    def calls(self) -> int:
        return int(self.inner.calls)


@contextlib.contextmanager
def one_at_a_time() -> Iterator[None]:
    """The drain as it was before batching: every payment its own request."""
    saved = dict(outbox.BATCHERS)
    outbox.BATCHERS.clear()
    try:
        yield
    finally:
        outbox.BATCHERS.update(saved)


def portal_for(folder: Path, customers: int, invoices: int) -> tuple[Any, Any, Any, Any]:
    """A sandbox process, a portal mirrored from it, and a counted adapter of the company."""
    proc, info = mirror_bench.start_sandbox(customers, invoices)
    folder.mkdir()
    app, settings = mirror_bench.make_app(folder, info, 1000)
    mirror_bench.connect(app, settings)
    qbo = mirror_bench.adapter(app, settings)
    run = Mirror(qbo, app.extensions["portal.db"].sessions, mirror_settings(settings)).run("full")
    assert run.error is None, run.error
    return proc, app, Counting(qbo), app.extensions["portal.db"].sessions


def card() -> Method:
    return Method(MethodKind.CARD, token=Token("COMMON.ACCEPT.INAPP.PAYMENT", secrets.token_hex(8)))


@contextlib.contextmanager
def card_processor() -> Iterator[tuple[Any, Callable[[], Method], str]]:
    """The real Authorize.Net adapter against its sandbox on loopback (in this process), with
    cards tokenized as Accept.js would; the in-memory fake when the adapter is not there."""
    try:
        from portal.config import AuthorizeNetSettings
        from portal.payments.authorizenet import AuthorizeNetGateway
        from sandbox.authorizenet import AnetSandbox
    except ImportError:
        yield FakeGateway(), card, "FakeGateway (in memory; no Authorize.Net adapter)"
        return
    anet = AnetSandbox().start()
    try:
        settings = AuthorizeNetSettings(
            api_login_id=anet.state.api_login_id,
            transaction_key=anet.state.transaction_key,
            api_url=anet.api_url,
            client_key="bench-client-key",
        )

        def tokenized() -> Method:
            return Method(MethodKind.CARD, token=Token(*anet.state.tokenize_card(VISA, 12, 2030)))

        yield AuthorizeNetGateway(settings), tokenized, "AuthorizeNetGateway -> its sandbox"
    finally:
        anet.stop()


def pay(
    sessions: Any,
    gateway: Any,
    customer_id: int,
    amounts: dict[int, str],
    method: Method | None = None,
) -> int:
    """One payment through the real service: allocation frozen, one charge, outbox queued."""
    method = method or card()
    with sessions() as s:
        payment = service.start(s, customer_id, None, amounts, secrets.token_urlsafe(18), method)
        s.commit()
        payment_id = int(payment.id)
    service.charge(sessions, gateway, payment_id, method)
    return payment_id


def open_invoices(sessions: Any) -> list[tuple[int, int, str]]:
    """(customer id, invoice id, balance) of every open mirrored invoice, oldest first."""
    with sessions() as s:
        rows = s.execute(
            sa.select(Invoice.customer_id, Invoice.id, Invoice.balance)
            .where(Invoice.balance > 0, Invoice.voided.is_(False), Invoice.deleted.is_(False))
            .order_by(Invoice.id)
        ).all()
    return [(c, i, f"{b:.2f}") for c, i, b in rows]


def drain(sessions: Any, qbo: Counting) -> tuple[float, int, int, int, outbox.DrainResult]:
    """Drain everything due; wall seconds, calls, writes, reads and the result."""
    calls, writes, reads = qbo.calls, qbo.writes, qbo.reads
    started = time.perf_counter()
    result = outbox.drain(sessions, lambda realm: qbo, limit=1_000_000)
    seconds = time.perf_counter() - started
    if result.errors:
        raise AccountingError(f"the drain failed: {result.errors[:3]}")
    return seconds, qbo.calls - calls, qbo.writes - writes, qbo.reads - reads, result


def one_payment_of_25(folder: Path) -> tuple[Row, str]:
    """(a) 25 invoices of one customer paid at once, then written back."""
    proc, app, qbo, sessions = portal_for(folder, 1, 200)
    try:
        with app.app_context(), card_processor() as (gateway, method, processor):
            by_customer: dict[int, list[tuple[int, str]]] = {}
            for customer_id, invoice_id, balance in open_invoices(sessions):
                by_customer.setdefault(customer_id, []).append((invoice_id, balance))
            customer_id, owed = max(by_customer.items(), key=lambda kv: len(kv[1]))
            assert len(owed) >= 25, f"the seeded customer has only {len(owed)} open invoices"
            started = time.perf_counter()
            pay(sessions, gateway, customer_id, dict(owed[:25]), method())
            _, calls, writes, reads, result = drain(sessions, qbo)
            took = time.perf_counter() - started
            assert result.done == 1
            charges = gateway.calls
        goal = "1 charge; 1 write, 0 reads"
        row = Row("(a) 25 invoices, one payment", charges, calls, writes, reads, goal, took, 1)
        return row, processor
    finally:
        stop(proc, app)


def queued(sessions: Any, invoices: list[tuple[int, int, str]]) -> None:
    """One payment per invoice, each in full."""
    gateway = FakeGateway()
    for customer_id, invoice_id, balance in invoices:
        pay(sessions, gateway, customer_id, {invoice_id: balance})


def thousand_payments(folder: Path, n: int) -> tuple[Row, Row]:
    """(b) n queued payments drained one at a time, then n others drained in batches."""
    # about a third of the seeded invoices are open: enough for both sets of payments
    proc, app, qbo, sessions = portal_for(folder, 1000, max(4000, 7 * n))
    try:
        with app.app_context():
            invoices = open_invoices(sessions)
            assert len(invoices) >= 2 * n, f"only {len(invoices)} open invoices for 2 x {n}"
            queued(sessions, invoices[:n])
            with one_at_a_time():
                base = drain(sessions, qbo)
            queued(sessions, invoices[n : 2 * n])
            ours = drain(sessions, qbo)
            assert base[4].done == ours[4].done == n
            assert_all_done(sessions)
        bound = math.ceil(n / MAX_BATCH)
        return (
            Row(f"(b) drain {n:,} payments, batched", None, *ours[1:4], f"<= {bound}", ours[0], n),
            Row("    baseline: one at a time", None, *base[1:4], f"{n}", base[0], n),
        )
    finally:
        stop(proc, app)


def assert_all_done(sessions: Any) -> None:
    with sessions() as s:
        left = s.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status != OutboxStatus.DONE)
        )
    assert left == 0, f"{left} messages not done"


def stop(proc: subprocess.Popen[str], app: Any) -> None:
    app.extensions["portal.db"].engine.dispose()
    proc.terminate()
    proc.wait(timeout=30)


def table(rows: list[Row], ours: Row, base: Row, processor: str) -> str:
    """The benchmark table and the ratios against the baseline."""
    head = (
        f"{'run':<38} {'gateway':>7} {'QBO calls':>9} {'writes':>6} {'reads':>5} "
        f"{'goal':<26} {'wall s':>7} {'payments/s':>10}"
    )
    lines = [head]
    for r in rows:
        gateway = "-" if r.gateway_calls is None else str(r.gateway_calls)
        lines.append(
            f"{r.label:<38} {gateway:>7} {r.qbo_calls:>9} {r.writes:>6} {r.reads:>5} "
            f"{r.goal:<26} {r.seconds:>7.2f} {r.payments / r.seconds:>10,.0f}"
        )
    lines += [
        "",
        f"baseline / batched: {base.qbo_calls / ours.qbo_calls:.1f}x the QuickBooks calls, "
        f"{base.seconds / ours.seconds:.1f}x the wall time",
        f"(a) card processor: {processor}; wall time = charge + write-back",
        "(b) payments made through the service with FakeGateway; wall time = the drain alone",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    args = parser.parse_args()
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the sandbox is plain http on loopback
    # the in-process Authorize.Net sandbox logs every request; the table is what matters here
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        one, processor = one_payment_of_25(Path(tmp) / "one")
        ours, base = thousand_payments(Path(tmp) / "many", args.payments)
    print(table([one, ours, base], ours, base, processor))


if __name__ == "__main__":
    main()
