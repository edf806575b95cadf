"""Benchmark: full mirror of a large QuickBooks company from the sandbox server, then an
incremental sync of 100 changed invoices, against a 100-rows-a-page baseline in the same run.

    .venv/bin/python bench/mirror_bench.py          # 10,000 customers, 100,000 invoices
    .venv/bin/python bench/mirror_bench.py --customers 1000 --invoices 10000  # quick

The sandbox runs in its own process (as QuickBooks would), without its 500 requests/minute
throttle so the baseline is not dominated by 60-second waits; the portal side mirrors into a
fresh SQLite file through the real python-quickbooks/intuit-oauth adapter."""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.app import create_app  # noqa: E402
from portal.billing.models import (  # noqa: E402
    CatalogItem,
    CreditMemo,
    Customer,
    Invoice,
    ReceivedPayment,
)
from portal.config import load_settings  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from sync.accounting import Entity  # noqa: E402
from sync.mirror import Mirror  # noqa: E402
from sync.service import mirror_settings  # noqa: E402

REALM = "4620816365000000001"
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"


@dataclass
class Result:
    label: str
    seconds: float
    calls: int
    rows: int
    bound: int | None = None
    rss_mb: float | None = None
    write_seconds: float | None = None


def start_sandbox(customers: int, invoices: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The sandbox in its own process; returns it and the URLs it printed."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.qbo",
            "--port",
            "0",
            "--no-throttle",
            "--realm-id",
            REALM,
            "--seed-customers",
            str(customers),
            "--seed-invoices",
            str(invoices),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    info: dict[str, str] = {}
    assert proc.stdout is not None
    while "client_id" not in info:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the sandbox did not start")
        key, _, value = line.partition(": ")
        info[key.strip()] = value.strip()
    return proc, info


def make_app(folder: Path, info: dict[str, str], page_size: int):
    """A portal app on a fresh SQLite file, pointed at the sandbox."""
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    (folder / "config.toml").write_text("")  # everything below comes from the environment
    settings = load_settings(
        folder / "config.toml",
        environ={
            "PORTAL_INSTANCE_PATH": str(folder),
            "PORTAL_DATABASE_URL": url,
            "PORTAL_QUICKBOOKS_CLIENT_ID": CLIENT_ID,
            "PORTAL_QUICKBOOKS_CLIENT_SECRET": CLIENT_SECRET,
            "PORTAL_QUICKBOOKS_DISCOVERY_URL": info["discovery_url"],
            "PORTAL_QUICKBOOKS_API_BASE_URL": info["api_base_url"],
            "PORTAL_SYNC_PAGE_SIZE": str(page_size),
            # Production re-reads 5 minutes; the seed is seconds old here, so that window would
            # hold the whole seeded company instead of the 100 changes being measured.
            "PORTAL_SYNC_OVERLAP_SECONDS": "2",
        },
    )
    return create_app({"SETTINGS": settings}), settings


def connect(app, settings) -> None:
    """The real OAuth round trip: authorize (auto-approved) → code → tokens stored."""
    from sync.quickbooks.connection import authorization_url
    from sync.quickbooks.connection import connect as store

    answer = requests.get(authorization_url(settings, "bench"), allow_redirects=False, timeout=10)
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    store(
        settings,
        app.extensions["portal.db"].sessions,
        app.extensions["portal.fernet"],
        query["code"][0],
        query["realmId"][0],
    )


def adapter(app, settings):
    from sync.quickbooks.connection import adapter_for

    return adapter_for(
        settings, app.extensions["portal.db"].sessions, app.extensions["portal.fernet"], REALM
    )


def counts(app) -> dict[Entity, int]:
    with app.extensions["portal.db"].sessions() as s:
        return {
            e: s.scalar(sa.select(sa.func.count()).select_from(m))
            for e, m in (
                (Entity.CUSTOMER, Customer),
                (Entity.INVOICE, Invoice),
                (Entity.PAYMENT, ReceivedPayment),
                (Entity.CREDIT_MEMO, CreditMemo),
                (Entity.ITEM, CatalogItem),
            )
        }


def full_mirror(folder: Path, info: dict[str, str], page_size: int, label: str) -> Result:
    folder.mkdir()
    app, settings = make_app(folder, info, page_size)
    connect(app, settings)
    qbo = adapter(app, settings)
    mirror = Mirror(qbo, app.extensions["portal.db"].sessions, mirror_settings(settings))
    started = time.perf_counter()
    run = mirror.run("full")
    seconds = time.perf_counter() - started
    assert run.error is None, run.error
    per_entity = counts(app)
    bound = sum(max(1, math.ceil(n / 1000)) for n in per_entity.values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    app.extensions["portal.db"].engine.dispose()
    rows = sum(per_entity.values())
    return Result(label, seconds, run.api_calls, rows, bound, rss, mirror.last_tally.write_seconds)


def incremental(folder: Path, info: dict[str, str], changed: int) -> Result:
    app, settings = make_app(folder, info, 1000)  # the database mirrored above
    qbo = adapter(app, settings)
    with app.extensions["portal.db"].sessions() as s:
        ids = list(s.scalars(sa.select(Invoice.qbo_id).order_by(Invoice.id).limit(changed)))
        item = s.scalar(sa.select(CatalogItem.qbo_id).where(CatalogItem.name == "Late fee"))
    mirror = Mirror(qbo, app.extensions["portal.db"].sessions, mirror_settings(settings))
    mirror.run("incremental")  # settle: the first CDC window still overlaps the seeding
    for n, invoice_id in enumerate(ids):
        qbo.add_invoice_line(invoice_id, item, Decimal("5.00"), "Late fee", f"bench-{n}")
    before = qbo.calls
    started = time.perf_counter()
    run = mirror.run("incremental")
    seconds = time.perf_counter() - started
    assert run.error is None and run.kind == "incremental", run.error
    app.extensions["portal.db"].engine.dispose()
    return Result(
        "incremental, 100 changed invoices",
        seconds,
        qbo.calls - before,
        run.updated + run.inserted,
        1,
    )


def table(results: list[Result], baseline: Result, full: Result) -> str:
    """The benchmark table: calls against the lower bound, time, rates, memory."""
    head = (
        f"{'run':<36} {'API calls':>9} {'bound':>5} {'calls/bound':>11} {'wall s':>7} "
        f"{'rows':>7} {'rows/s':>7} {'write s':>7} {'rows/s written':>14} {'RSS MB':>6}"
    )
    lines = [head]
    for r in results:
        ratio = f"{r.calls / r.bound:.3f}" if r.bound else "-"
        rate = f"{r.rows / r.seconds:,.0f}" if r.seconds and r.rows else "-"
        written = f"{r.rows / r.write_seconds:,.0f}" if r.write_seconds else "-"
        ws = f"{r.write_seconds:.2f}" if r.write_seconds else "-"
        rss = f"{r.rss_mb:,.0f}" if r.rss_mb else "-"
        lines.append(
            f"{r.label:<36} {r.calls:>9} {r.bound or '-':>5} {ratio:>11} {r.seconds:>7.2f} "
            f"{r.rows:>7,} {rate:>7} {ws:>7} {written:>14} {rss:>6}"
        )
    lines.append("")
    lines.append(
        f"baseline / ours: {baseline.calls / full.calls:.1f}x the API calls, "
        f"{baseline.seconds / full.seconds:.2f}x the wall time"
    )
    lines.append(
        "rows = customers + invoices + payments + credit memos + items mirrored; "
        "'write s' = time spent writing pages into SQLite (the rest waits on the sandbox)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    args = parser.parse_args()
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the sandbox is plain http on loopback
    t0 = time.perf_counter()
    proc, info = start_sandbox(args.customers, args.invoices)
    print(
        f"sandbox seeded {args.customers:,} customers / {args.invoices:,} invoices "
        f"in {time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            full = full_mirror(Path(tmp) / "full", info, 1000, "full mirror, 1000 rows/page")
            inc = incremental(Path(tmp) / "full", info, 100)
            base = full_mirror(Path(tmp) / "base", info, 100, "baseline: 100 rows/page")
            print(table([full, inc, base], base, full))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
