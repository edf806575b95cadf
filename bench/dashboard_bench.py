"""Benchmark: the dashboard and the invoice list of a customer with 2,000 invoices and
5,000 payments, served by gunicorn (2 workers) under concurrent load from a second process
on loopback, against a bare Flask page rendering a template in the same run.

    .venv/bin/python bench/dashboard_bench.py [--seconds 10] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.accounts.models import Role  # noqa: E402
from portal.accounts.service import create_user  # noqa: E402
from portal.app import create_app  # noqa: E402
from portal.billing.models import Customer, Invoice, InvoiceLine, ReceivedPayment  # noqa: E402
from portal.clock import today  # noqa: E402
from portal.config import load_settings  # noqa: E402
from portal.db import utcnow  # noqa: E402
from portal.migrate import upgrade  # noqa: E402

PASSWORD = "bench-harbor-lantern-2026"  # noqa: S105  (a throwaway login in a temp database)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(folder: Path, invoices: int, payments: int) -> Path:
    """A config and a database holding one big customer with a login."""
    url = f"sqlite:///{folder / 'bench.db'}"
    config = folder / "config.toml"
    config.write_text(
        f'[portal]\ninstance_path = "{folder}"\ndatabase_url = "{url}"\n'
        "[security]\nlogin_attempts_per_address = 100000\n"
    )
    upgrade(url)
    app = create_app({"SETTINGS": load_settings(config, environ={})})
    sessions = app.extensions["portal.db"].sessions
    with app.app_context(), sessions() as s:
        customer = Customer(realm_id="bench", qbo_id="1", display_name="Big Customer")
        s.add(customer)
        s.flush()
        start = today() - timedelta(days=720)
        now = utcnow()
        invoice_rows = [
            {
                "realm_id": "bench",
                "qbo_id": f"i{n}",
                "customer_id": customer.id,
                "doc_number": str(10000 + n),
                "txn_date": start + timedelta(days=n // 3),
                "due_date": start + timedelta(days=n // 3 + 30),
                "total_amt": Decimal("99.50"),
                "balance": Decimal("99.50") if n % 7 == 0 else Decimal(0),
                "currency": "USD",
                "voided": False,
                "deleted": False,
                "sync_token": "0",
                "mirrored_at": now,
            }
            for n in range(invoices)
        ]
        s.execute(sa.insert(Invoice), invoice_rows)
        ids = s.scalars(sa.select(Invoice.id)).all()
        s.execute(
            sa.insert(InvoiceLine),
            [
                {
                    "invoice_id": i,
                    "position": 1,
                    "amount": Decimal("99.50"),
                    "item_name": "Service",
                    "detail_type": "SalesItemLineDetail",
                }
                for i in ids
            ],
        )
        s.execute(
            sa.insert(ReceivedPayment),
            [
                {
                    "realm_id": "bench",
                    "qbo_id": f"p{n}",
                    "customer_id": customer.id,
                    "txn_date": start + timedelta(days=n % 720),
                    "total_amt": Decimal("39.80"),
                    "unapplied_amt": Decimal(0),
                    "deleted": False,
                    "sync_token": "0",
                    "mirrored_at": now,
                }
                for n in range(payments)
            ],
        )
        create_user(
            s,
            app.extensions["portal.account_policy"],
            username="big",
            email="big@example.com",
            password=PASSWORD,
            role=Role.CUSTOMER,
            customer_id=customer.id,
        )
        s.commit()
    app.extensions["portal.db"].engine.dispose()
    return config


def gunicorn(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """gunicorn with 2 sync workers on loopback."""
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=5, allow_redirects=False)
            return proc
        except requests.RequestException:  # not listening yet, or still importing
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not start on {port}")


def login_cookie(port: int) -> str:
    """Log in as the big customer; the session cookie."""
    s = requests.Session()
    page = s.get(f"http://127.0.0.1:{port}/login", timeout=5).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    s.post(
        f"http://127.0.0.1:{port}/login",
        data={"identifier": "big", "password": PASSWORD, "csrf_token": token.group(1)},
        timeout=5,
    )
    return "; ".join(f"{k}={v}" for k, v in s.cookies.items())


def _client(
    port: int, path: str, cookie: str, until: float, out: list[float], errors: list[int]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.perf_counter() < until:
        began = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            errors.append(response.status)
        out.append(time.perf_counter() - began)
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def load(port: int, path: str, cookie: str, clients: int, seconds: float, queue) -> None:  # type: ignore[no-untyped-def]
    """Runs in a second process: `clients` connections hammering one page."""
    latencies: list[float] = []
    errors: list[int] = []
    warm_until = time.perf_counter() + 1.0
    threads = [
        threading.Thread(target=_client, args=(port, path, cookie, warm_until, [], []))
        for _ in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    until = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=_client, args=(port, path, cookie, until, latencies, errors))
        for _ in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put((latencies, errors))


def measure(port: int, path: str, cookie: str, clients: int, seconds: float) -> dict[str, float]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=load, args=(port, path, cookie, clients, seconds, queue))
    proc.start()
    latencies, errors = queue.get(timeout=seconds + 60)
    proc.join()
    if errors:
        raise SystemExit(f"{path}: {len(errors)} non-200 answers, e.g. {errors[0]}")
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[int(len(latencies) * 0.95) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--payments", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = seed(Path(tmp), args.invoices, args.payments)
        portal_port, bare_port = free_port(), free_port()
        portal = gunicorn("portal:create_app()", portal_port, {"PORTAL_CONFIG": str(config)})
        bare = gunicorn("bench.bare_app:app", bare_port, {})
        try:
            cookie = login_cookie(portal_port)
            results = {
                "bare Flask page (baseline)": measure(
                    bare_port, "/", "", args.clients, args.seconds
                ),
                "dashboard": measure(portal_port, "/", cookie, args.clients, args.seconds),
                "invoice list": measure(
                    portal_port, "/invoices", cookie, args.clients, args.seconds
                ),
            }
        finally:
            portal.terminate()
            bare.terminate()
            portal.wait(10)
            bare.wait(10)
    base = results["bare Flask page (baseline)"]["rps"]
    print(
        f"{args.invoices:,} invoices, {args.payments:,} payments; gunicorn 2 workers; "
        f"{args.clients} clients for {args.seconds:g} s each, from a second process"
    )
    print(f"{'page':<28} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'vs bare':>8}")
    for name, r in results.items():
        print(
            f"{name:<28} {r['requests']:>8} {r['rps']:>8.1f} {r['p50']:>8.1f} "
            f"{r['p95']:>8.1f} {r['rps'] / base:>8.2f}"
        )


if __name__ == "__main__":
    main()
