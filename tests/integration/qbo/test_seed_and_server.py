"""Seeding (determinism, realism, speed), state-file persistence and the command line."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from intuitlib.client import AuthClient
from quickbooks.objects.customer import Customer
from quickbooks.objects.item import Item

from sandbox.qbo import ManualClock, QboSandbox, SandboxState, seed_company

from .conftest import REDIRECT_URI, START, make_qb


def test_seeding_is_deterministic(clock: ManualClock) -> None:
    first = seed_company(SandboxState(clock=clock), customers=20, invoices=100, rng_seed=5)
    second = seed_company(SandboxState(clock=clock), customers=20, invoices=100, rng_seed=5)
    assert first.rows == second.rows


def test_seeded_data_looks_like_a_real_billing_company(clock: ManualClock) -> None:
    company = seed_company(SandboxState(clock=clock), customers=40, invoices=600, rng_seed=11)
    invoices = list(company.rows["Invoice"].values())
    today = START.date().isoformat()
    assert any(i["DueDate"] < today and i["Balance"] > 0 for i in invoices)  # overdue
    assert any(0 < i["Balance"] < i["TotalAmt"] for i in invoices)  # partly paid
    assert any(i["Balance"] == 0 for i in invoices)  # fully paid
    assert company.rows["CreditMemo"]
    assert all(
        "@example." in c["PrimaryEmailAddr"]["Address"] for c in company.rows["Customer"].values()
    )
    late_fee = company.rows["Item"][company.find_name("Item", "Late fee")]
    income = company.rows["Account"][late_fee["IncomeAccountRef"]["value"]]
    assert income["AccountType"] == "Other Income"
    dates = sorted(i["TxnDate"] for i in invoices)
    assert dates[0] < dates[-1] <= today


def test_seeding_20000_invoices_is_fast(clock: ManualClock) -> None:
    started = time.perf_counter()
    company = seed_company(SandboxState(clock=clock), customers=2000, invoices=20000)
    assert len(company.rows["Invoice"]) == 20000
    assert time.perf_counter() - started < 15


def test_state_file_survives_a_restart_with_tokens_and_data(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "qbo.json"
    first = QboSandbox(SandboxState(clock=clock), state_file=path).start()
    seed_company(first.state, customers=5, invoices=10)
    tokens = first.state.connect()
    first.stop()
    assert path.exists()
    second = QboSandbox(SandboxState(clock=clock), state_file=path).start()
    try:
        auth = AuthClient(
            "sandbox-client-id",
            "sandbox-client-secret",
            REDIRECT_URI,
            environment=second.discovery_url,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
        )
        qb = make_qb(second, auth, tokens["realm_id"])
        assert Customer.count(qb=qb) == 5
        assert {item.Name for item in Item.all(qb=qb)} >= {"Late fee", "Monthly service"}
        auth.refresh()
    finally:
        second.stop()


def test_command_line_serves_prints_its_urls_and_saves_state_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    state_file = tmp_path / "cli-state.json"
    command = [sys.executable, "-m", "sandbox.qbo", "--port", str(port)]
    command += ["--seed-customers", "3", "--seed-invoices", "5", "--state-file", str(state_file)]
    root = Path(__file__).resolve().parents[3]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=root
    ) as process:
        try:
            assert process.stdout is not None
            first_line = process.stdout.readline()
            assert first_line.strip() == f"base_url: http://127.0.0.1:{port}"
            discovery = f"http://127.0.0.1:{port}/.well-known/openid_configuration"
            doc = requests.get(discovery, timeout=5).json()
            assert doc["token_endpoint"].endswith("/oauth2/v1/tokens/bearer")
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert state_file.exists()
    saved = SandboxState()
    saved.load(state_file)
    assert len(next(iter(saved.companies.values())).rows["Customer"]) == 3


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
