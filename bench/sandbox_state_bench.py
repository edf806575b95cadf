"""Benchmark: what keeping the QuickBooks sandbox's state file costs.

Drains 1,000 queued payments in batches (as bench/payments_bench.py does) against a sandbox
that keeps no file and against one that journals every change to its state file before it
answers, in the same run; then a restart of the kept sandbox (snapshot + journal read back).

    .venv/bin/python bench/sandbox_state_bench.py                  # 1,000 payments
    .venv/bin/python bench/sandbox_state_bench.py --payments 200   # quick

No timing is asserted: the table is for reading."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import mirror_bench, payments_bench  # noqa: E402


def start_sandbox(
    customers: int, invoices: int, state_file: Path | None
) -> tuple[subprocess.Popen[str], dict[str, str], float]:
    """mirror_bench.start_sandbox, with --state-file when one is given; and its start time."""
    command = [sys.executable, "-m", "sandbox.qbo", "--port", "0", "--no-throttle"]
    command += ["--realm-id", mirror_bench.REALM, "--client-id", mirror_bench.CLIENT_ID]
    command += ["--client-secret", mirror_bench.CLIENT_SECRET]
    command += ["--seed-customers", str(customers), "--seed-invoices", str(invoices)]
    if state_file is not None:
        command += ["--state-file", str(state_file)]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    info: dict[str, str] = {}
    assert proc.stdout is not None
    while "client_id" not in info:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the sandbox did not start")
        key, _, value = line.partition(": ")
        info[key.strip()] = value.strip()
    return proc, info, time.perf_counter() - started


def drain(folder: Path, payments: int, state_file: Path | None) -> tuple[float, float]:
    """Seconds to start (seed) the sandbox and to drain `payments` queued payments."""
    started: list[float] = []

    def start(customers: int, invoices: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
        proc, info, seconds = start_sandbox(customers, invoices, state_file)
        started.append(seconds)
        return proc, info

    saved = mirror_bench.start_sandbox
    mirror_bench.start_sandbox = start  # payments_bench.portal_for starts it through here
    try:
        customers, invoices = 1000, max(4000, 7 * payments)
        proc, app, qbo, sessions = payments_bench.portal_for(folder, customers, invoices)
    finally:
        mirror_bench.start_sandbox = saved
    try:
        with app.app_context():
            payments_bench.queued(sessions, payments_bench.open_invoices(sessions)[:payments])
            seconds, *_, result = payments_bench.drain(sessions, qbo)
            assert result.done == payments, result
    finally:
        payments_bench.stop(proc, app)
    return started[0], seconds


def restart(state_file: Path) -> float:
    """Seconds until a sandbox on the kept file prints its URLs."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.qbo", "--port", "0", "--state-file", str(state_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    while not proc.stdout.readline().startswith("client_id"):
        pass
    seconds = time.perf_counter() - started
    proc.kill()
    proc.wait()
    proc.stdout.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    runs: dict[str, list[tuple[float, float]]] = {"plain": [], "kept": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for round_ in range(args.rounds):  # alternated, so a busy machine hurts both alike
            runs["plain"].append(drain(folder / f"plain{round_}", args.payments, None))
            state_file = folder / f"qbo{round_}.json"
            runs["kept"].append(drain(folder / f"kept{round_}", args.payments, state_file))
        snapshot = state_file.stat().st_size
        journal = state_file.with_name(state_file.name + ".journal").stat().st_size
        reopened = restart(state_file)
    n = args.payments
    print(f"{'sandbox':<34} {'start s':>8} {'drain s (each round)':>22} {'payments/s':>10}")
    for key, label in (("plain", "no state file"), ("kept", "state file, journaled per request")):
        start = min(s for s, _ in runs[key])
        drains = [d for _, d in runs[key]]
        each = " ".join(f"{d:.2f}" for d in drains)
        print(f"{label:<34} {start:>8.2f} {each:>22} {n / min(drains):>10,.0f}")
    best = {key: min(d for _, d in runs[key]) for key in runs}
    print()
    print(f"best drain with the state file: {best['kept'] / best['plain']:.2f}x the time without")
    print(f"state file after the stop: snapshot {snapshot / 1e6:.1f} MB, journal {journal} bytes")
    print(f"restart on the kept file: {reopened:.2f} s to serve")


if __name__ == "__main__":
    main()
