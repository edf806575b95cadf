"""Benchmark: one autopay run for N customers with invoices due (default 5,000).

Measures the run (notices, one frozen payment and one charge per customer, through the
ordinary pay path), its write-back to QuickBooks (batched, 30 payments a call), and a second
run the same day (it must charge nothing): card-processor calls (goal: one per customer),
QuickBooks calls (goal: <= ceil(N / 30)), wall time and peak memory (RSS high-water mark).

    .venv/bin/python bench/autopay_bench.py            # 5,000 customers
    .venv/bin/python bench/autopay_bench.py --quick    # 300 customers

The QuickBooks company is a sandbox in its own process (as QuickBooks would be), reached
through the real OAuth round trip and the real python-quickbooks adapter; the portal side is
a fresh SQLite file mirrored from it. The processor is the in-memory FakeGateway (counting
calls); every open invoice is made due yesterday in the mirror. No timing is asserted."""

from __future__ import annotations

import argparse
import logging
import math
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sync.handlers  # noqa: E402, F401  (registers the write-back handlers and the batcher)
from bench import payments_bench  # noqa: E402
from portal.autopay.jobs import autopay_run  # noqa: E402
from portal.autopay.models import AutopayEnrollment, Consent  # noqa: E402
from portal.billing.models import Invoice  # noqa: E402
from portal.clock import app_today  # noqa: E402
from portal.outbox import OutboxMessage  # noqa: E402
from portal.payments.fake import FakeGateway  # noqa: E402
from portal.payments.gateway import SavedProfile  # noqa: E402
from portal.payments.models import MethodKind, Payment, PaymentState, SavedMethod  # noqa: E402
from sync.accounting import MAX_BATCH  # noqa: E402


@dataclass
class Row:
    """One line of the table."""

    label: str
    customers: int
    charges: int
    gateway_calls: int
    qbo_calls: int
    batches: int
    goal: str
    seconds: float
    rss_mb: float


def rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def enroll_all(app: Any, gateway: FakeGateway, limit: int) -> int:
    """The first `limit` customers with an open invoice: a saved card, autopay on, the
    invoices due yesterday; how many customers."""
    sessions = app.extensions["portal.db"].sessions
    with app.app_context(), sessions() as s:
        yesterday = app_today(app, s) - timedelta(days=1)
        s.execute(
            sa.update(Invoice)
            .where(Invoice.balance > 0, ~Invoice.voided, ~Invoice.deleted)
            .values(due_date=yesterday)
        )
        owing = sorted(
            set(
                s.scalars(
                    sa.select(Invoice.customer_id).where(
                        Invoice.balance > 0, ~Invoice.voided, ~Invoice.deleted
                    )
                )
            )
        )[:limit]
        methods = [
            SavedMethod(
                customer_id=c,
                gateway_customer_profile_id=f"9{c}",
                gateway_payment_profile_id=f"8{c}",
                kind=MethodKind.CARD,
                brand="Visa",
                last4="1111",
                is_default=True,
            )
            for c in owing
        ]
        s.add_all(methods)
        s.flush()
        s.add_all(
            AutopayEnrollment(
                customer_id=m.customer_id, saved_method_id=m.id, consent_via=Consent.CUSTOMER
            )
            for m in methods
        )
        s.commit()
    for c in owing:
        gateway.saved_methods.add(SavedProfile(f"9{c}", f"8{c}"))
    return len(owing)


def batch_count(app: Any) -> int:
    """How many batch requests the write-back made (each sent once; a resend keeps its key)."""
    with app.extensions["portal.db"].sessions() as s:
        return int(s.scalar(sa.select(sa.func.count(sa.distinct(OutboxMessage.batch_key)))) or 0)


def succeeded(app: Any) -> int:
    with app.extensions["portal.db"].sessions() as s:
        return int(
            s.scalar(
                sa.select(sa.func.count())
                .select_from(Payment)
                .where(Payment.state == PaymentState.SUCCEEDED)
            )
            or 0
        )


def measure(folder: Path, customers: int) -> list[Row]:
    """The first run, its write-back, and a second run the same day."""
    # About a third of the seeded invoices are open: with six each, some 10-20% of the customers
    # owe nothing, so more are seeded and the first `customers` who owe are enrolled.
    seeded = math.ceil(customers * 1.3) + 10
    proc, app, qbo, sessions = payments_bench.portal_for(folder, seeded, 6 * seeded)
    try:
        gateway = FakeGateway()
        app.extensions["portal.gateway"] = gateway
        owing = enroll_all(app, gateway, customers)
        rows = []
        for label in ("autopay run", "second run, same day"):
            before_calls, before_paid = gateway.calls, succeeded(app)
            started = time.perf_counter()
            with app.app_context():
                autopay_run(app)
            took = time.perf_counter() - started
            charges = succeeded(app) - before_paid
            goal = f"{owing} (1 a customer)" if not rows else "0"
            rows.append(
                Row(label, owing, charges, gateway.calls - before_calls, 0, 0, goal, took, rss_mb())
            )
            if not rows[1:]:
                with app.app_context():
                    seconds, calls, _writes, _reads, result = payments_bench.drain(sessions, qbo)
                assert result.done == charges, f"{result.done} of {charges} written back"
                batches = batch_count(app)
                bound = math.ceil(charges / MAX_BATCH)
                rows.append(
                    Row("write-back", owing, 0, 0, calls, batches, f"<= {bound}", seconds, rss_mb())
                )
        return rows
    finally:
        payments_bench.stop(proc, app)
        if proc.stdout is not None:
            proc.stdout.close()


def table(rows: list[Row]) -> str:
    head = (
        f"{'run':<22} {'customers':>9} {'charged':>7} {'gateway':>7} {'QBO calls':>9} "
        f"{'batches':>7} {'goal':<20} {'wall s':>7} {'peak RSS MB':>11}"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.label:<22} {r.customers:>9,} {r.charges:>7,} {r.gateway_calls:>7,} "
            f"{r.qbo_calls:>9,} {r.batches:>7,} {r.goal:<20} {r.seconds:>7.2f} {r.rss_mb:>11.0f}"
        )
    lines += [
        "",
        "gateway = card-processor calls (FakeGateway); QBO calls = python-quickbooks HTTP",
        "requests to the sandbox; batches = batch requests of 30 payments (a batch QuickBooks",
        "answered with HTTP 429 - it takes 40 batches a minute - is resent under the same",
        "key: one more call, no more batches); peak RSS = this process's high-water mark",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="300 customers")
    args = parser.parse_args()
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the sandbox is plain http on loopback
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(Path(tmp) / "run", 300 if args.quick else args.customers)
    print(table(rows))


if __name__ == "__main__":
    main()
