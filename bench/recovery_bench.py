"""Benchmark: finding a charge whose answer was lost (AuthorizeNetGateway.find).

The Authorize.Net sandbox runs in its own process (its CPU is not ours), seeded like an
autopay day after two months of business: ~200 card charges a day settled into daily
batches for 60 days (about 1 in 20 declined), and 5,000 charges not yet settled. `find` looks
for a key (a) near the end of the unsettled list, (b) in a batch settled 20 days ago, (c)
declined 10 days ago, (d) nowhere in 45 days. The baseline is the find this replaced,
measured in the same run: the first unsettled page and the last two days' batches, bound by
the SDK's PyXB classes. It makes the same calls whatever the key, so it runs once.

    .venv/bin/python bench/recovery_bench.py

No timing is asserted: the table is for reading. Takes about two minutes, nearly all of it
the baseline (PyXB needs ~70 s of CPU for one page of 1,000 transactions)."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from authorizenet import apicontractsv1  # noqa: E402

from portal.config import AuthorizeNetSettings  # noqa: E402
from portal.payments.authorizenet import AuthorizeNetGateway, _element, _text  # noqa: E402
from portal.payments.gateway import ChargeResult  # noqa: E402

DAYS = 60
PER_DAY = 200
UNSETTLED = 5_000
CARDS = ("4111111111111111", "5424000000000015", "370000000000002", "6011000000000012")
AMOUNT = Decimal("123.45")


@dataclass
class Case:
    """One lookup: what is asked, and what should come back."""

    label: str
    key: str
    since: datetime
    expect: str  # approved | declined | none


@dataclass
class Run:
    """One measured find."""

    calls: int
    cpu: float
    wall: float
    answer: str


# --- the sandbox process ---------------------------------------------------------------------


def serve() -> None:
    """Seed a sandbox, start it, print its URL and the cases; stop when stdin closes."""
    from sandbox.authorizenet import AnetSandbox, AnetState, ManualClock

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("sandbox").setLevel(logging.WARNING)
    now = datetime.now(UTC).replace(microsecond=0)
    state = AnetState(clock=ManualClock(now))
    state.settlement_cutoff = None  # settle only where seeded, whatever the hour
    cases = seed(state, now)
    sandbox = AnetSandbox(state).start()
    print(json.dumps({"api_url": sandbox.api_url, "login": state.api_login_id,
                      "key": state.transaction_key, "cases": cases}), flush=True)  # fmt: skip
    sys.stdin.read()
    sandbox.stop()


def seed(state: Any, now: datetime) -> list[dict[str, str]]:
    """60 days of daily batches, 5,000 unsettled; the cases' keys among them."""
    serial = 0

    def charge(at: datetime, key: str | None = None, declined: bool | None = None) -> Any:
        nonlocal serial
        serial += 1
        amount = AMOUNT if key else Decimal(5 + serial % 400) + Decimal(serial % 100) / 100
        refused = serial % 20 == 0 if declined is None else declined
        card = CARDS[serial % len(CARDS)]
        return state.seed_charge(amount, key or f"P{serial:08d}", refused, card, at)

    last_cutoff = datetime.combine(now.date(), clock_time(3, 0), UTC)
    if last_cutoff > now:
        last_cutoff -= timedelta(days=1)
    targets: dict[int, tuple[str, bool]] = {20: ("K-SETTLED-20D", False), 10: ("K-DECLINED", True)}
    cases = []
    for back in range(DAYS, 0, -1):
        opened = last_cutoff - timedelta(days=back)
        for n in range(PER_DAY):
            at = opened + timedelta(seconds=(n + 1) * 86_000 // PER_DAY)
            if back in targets and n == PER_DAY // 2:
                key, declined = targets[back]
                charge(at, key, declined)
                cases.append((key, at, "declined" if declined else "approved"))
            charge(at)
        state.settle(opened + timedelta(days=1))
    started = last_cutoff + timedelta(seconds=1)  # today's autopay run
    for n in range(UNSETTLED):
        at = started + (now - started) * n / UNSETTLED
        if n == UNSETTLED - 10:
            charge(at, "K-UNSETTLED", False)
            cases.insert(0, ("K-UNSETTLED", at, "approved"))
        charge(at)
    labels = ["(a) unsettled, ~5,000th", "(b) settled 20 days ago", "(c) declined 10 days ago"]
    listed = [
        {"label": label, "key": key, "since": at.isoformat(), "expect": expect}
        for label, (key, at, expect) in zip(labels, cases, strict=True)
    ]
    absent = (now - timedelta(days=45)).isoformat()
    listed.append({"label": "(d) absent, 45 days", "key": "K-NEVER", "since": absent,
                   "expect": "none"})  # fmt: skip
    return listed


# --- the client side -------------------------------------------------------------------------


def baseline_pages(gateway: AuthorizeNetGateway) -> list[Any]:
    """What the old find read: one unsettled page and two days of batches, through PyXB."""
    client = gateway.client
    kind = apicontractsv1.ArrayOfTransactionSummaryType
    request: Any = apicontractsv1.getUnsettledTransactionListRequest()
    pages = [
        _element(client.send("getUnsettledTransactionListRequest", request), "transactions", kind)
    ]
    request = apicontractsv1.getSettledBatchListRequest()
    now = datetime.now(UTC)
    request.firstSettlementDate = (now - timedelta(days=2)).replace(tzinfo=None)
    request.lastSettlementDate = now.replace(tzinfo=None)
    reply = client.send("getSettledBatchListRequest", request)
    batches = _element(reply, "batchList", apicontractsv1.ArrayOfBatchDetailsType)
    for batch in batches.batch if batches is not None else []:
        request = apicontractsv1.getTransactionListRequest()
        request.batchId = str(batch.batchId)
        pages.append(
            _element(client.send("getTransactionListRequest", request), "transactions", kind)
        )
    return pages


def baseline_answer(pages: list[Any], key: str, amount: Decimal) -> str:
    """What the old find made of those pages for a key (invoice number and amount)."""
    for page in pages:
        for txn in page.transaction if page is not None else []:
            settle = getattr(txn, "settleAmount", None)
            number = _text(getattr(txn, "invoiceNumber", None))
            if number == key and settle is not None and Decimal(str(settle)) == amount:
                return "listed"
    return "none"


def measure(gateway: AuthorizeNetGateway, find: Callable[[], ChargeResult | None]) -> Run:
    """CPU (this process only) and wall time of one lookup, with its API calls."""
    calls = gateway.calls
    cpu, wall = time.process_time(), time.perf_counter()
    found = find()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    answer = "none" if found is None else found.outcome.value
    return Run(gateway.calls - calls, cpu, wall, answer)


def measure_baseline(gateway: AuthorizeNetGateway, cases: list[Case]) -> list[Run]:
    """The old find's reading, once (its calls do not depend on the key), then its answer
    for each case from what it read."""
    calls = gateway.calls
    cpu, wall = time.process_time(), time.perf_counter()
    pages = baseline_pages(gateway)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    calls = gateway.calls - calls
    return [Run(calls, cpu, wall, baseline_answer(pages, c.key, AMOUNT)) for c in cases]


def median_run(runs: list[Run]) -> Run:
    """The run with the median CPU time."""
    return sorted(runs, key=lambda r: r.cpu)[len(runs) // 2]


def table(cases: list[Case], ours: list[Run], baseline: list[Run]) -> str:
    """One line per case, ours against the baseline."""
    head = (
        f"{'case':<26} {'expect':<8} {'calls':>5} {'CPU s':>7} {'wall s':>7} {'found':<9}"
        f" | {'base calls':>10} {'base CPU s':>10} {'base wall s':>11} {'base found':<10}"
        f" {'CPU ratio':>9}"
    )
    lines = [head, "-" * len(head)]
    for case, run, base in zip(cases, ours, baseline, strict=True):
        base_found = base.answer if base.answer != "none" or case.expect == "none" else "MISSED"
        lines.append(
            f"{case.label:<26} {case.expect:<8} {run.calls:>5} {run.cpu:>7.3f} {run.wall:>7.3f}"
            f" {run.answer:<9} | {base.calls:>10} {base.cpu:>10.2f} {base.wall:>11.2f}"
            f" {base_found:<10} {base.cpu / run.cpu:>8.0f}x"
        )
    lines += [
        "",
        f"ours: median of 3 runs each; {UNSETTLED:,} unsettled, {DAYS} daily batches of"
        f" ~{PER_DAY}, sandbox in its own process",
        "baseline: the old find (first unsettled page of 1,000 + last 2 days' batches, PyXB);"
        " its calls do not depend on the key, so it reads once and each key is matched"
        " against what it read (MISSED: the old find answered 'not charged')",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-baseline", action="store_true", help="skip the slow PyXB path")
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the sandbox did not start")
        info = json.loads(line)
        settings = AuthorizeNetSettings(
            api_login_id=info["login"],
            transaction_key=info["key"],
            api_url=info["api_url"],
            client_key="bench-client-key",
            timeout_seconds=300,
        )
        gateway = AuthorizeNetGateway(settings)
        cases = [
            Case(c["label"], c["key"], datetime.fromisoformat(c["since"]), c["expect"])
            for c in info["cases"]
        ]
        gateway.find("K-WARM-UP", AMOUNT, datetime.now(UTC))  # connection, imports
        ours = []
        for case in cases:
            runs = [
                measure(gateway, lambda c=case: gateway.find(c.key, AMOUNT, c.since))
                for _ in range(3)
            ]
            ours.append(median_run(runs))
            assert ours[-1].answer == case.expect, (case.label, ours[-1].answer)
        if args.no_baseline:
            baseline = [Run(0, float("nan"), float("nan"), "skipped") for _ in cases]
        else:
            baseline = measure_baseline(gateway, cases)
        print(table(cases, ours, baseline))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
