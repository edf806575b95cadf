"""The state file's snapshot and journal through the ways a process can end mid-write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.qbo import SandboxState, seed_company, writes
from sandbox.qbo.util import dumps


def kept(path: Path) -> SandboxState:
    """A fresh sandbox state read from the file, as a restart reads it."""
    state = SandboxState()
    state.load(path)
    return state


@pytest.fixture
def opened() -> Iterator[Callable[[Path], SandboxState]]:
    """Open a state file as a starting sandbox does; each is closed after the test."""
    states: list[SandboxState] = []

    def open_(path: Path) -> SandboxState:
        state = SandboxState()
        state.open(path)
        states.append(state)
        return state

    yield open_
    for state in states:
        state.close()


def pay(state: SandboxState, amount: str) -> str:
    """A payment on the first open invoice, journaled as the server does after a request."""
    with state.lock:
        company = next(iter(state.companies.values()))
        invoice = next(i for i in company.rows["Invoice"].values() if i["Balance"] > 0)
        line = {"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
        body = {"CustomerRef": invoice["CustomerRef"], "TotalAmt": amount, "Line": [line]}
        payment_id = str(writes.create(company, "Payment", body)["Id"])
        state.persist()
        return payment_id


def test_deletes_voids_and_balances_are_replayed_from_the_journal(
    tmp_path: Path, opened: Callable[[Path], SandboxState]
) -> None:
    path = tmp_path / "qbo.json"
    state = opened(path)
    company = seed_company(state, customers=3, invoices=12)
    state.checkpoint()
    payment_id = pay(state, "5.00")
    with state.lock:
        invoices = [i for i in company.rows["Invoice"].values() if not i["LinkedTxn"]]
        writes.delete(company, "Invoice", dict(invoices[0]))
        writes.void(company, "Invoice", dict(invoices[1]))
        state.persist()
    restarted = kept(path).companies[company.realm_id]
    assert restarted.rows == company.rows
    assert restarted.tombstones["Invoice"][invoices[0]["Id"]]["status"] == "Deleted"
    assert restarted.voided == company.voided
    assert restarted.next_ids == company.next_ids
    assert restarted.ledger.payments_for(("Invoice", "1")) == company.ledger.payments_for(
        ("Invoice", "1")
    )
    assert payment_id in restarted.rows["Payment"]


def test_a_torn_last_record_is_dropped_and_the_journal_carries_on_after_it(
    tmp_path: Path, opened: Callable[[Path], SandboxState]
) -> None:
    path = tmp_path / "qbo.json"
    state = opened(path)
    seed_company(state, customers=2, invoices=6)
    state.checkpoint()
    first = pay(state, "1.00")
    journal = path.with_name("qbo.json.journal")
    with journal.open("ab") as out:  # killed in mid-append: never answered
        out.write(b'{"companies":[{"realm_id":')
    again = opened(path)
    assert first in next(iter(again.companies.values())).rows["Payment"]
    second = pay(again, "2.00")
    assert int(second) == int(first) + 1
    payments = next(iter(kept(path).companies.values())).rows["Payment"]
    assert {first, second} <= payments.keys()


def test_a_journal_older_than_the_snapshot_is_not_replayed(
    tmp_path: Path, opened: Callable[[Path], SandboxState]
) -> None:
    path = tmp_path / "qbo.json"
    state = opened(path)
    seed_company(state, customers=2, invoices=6)
    state.checkpoint()
    pay(state, "1.00")
    journal = path.with_name("qbo.json.journal")
    stale = journal.read_bytes()
    state.checkpoint()  # the journal is folded in, then killed before it was emptied:
    journal.write_bytes(stale)
    company = next(iter(kept(path).companies.values()))
    assert company.rows == next(iter(state.companies.values())).rows


def test_a_state_file_written_before_journals_still_loads_and_is_kept(
    tmp_path: Path, opened: Callable[[Path], SandboxState]
) -> None:
    path = tmp_path / "qbo.json"
    old = SandboxState()
    company = seed_company(old, customers=2, invoices=6)
    path.write_text(_old_format(old))
    state = opened(path)
    assert next(iter(state.companies.values())).rows.keys() == company.rows.keys()
    pay(state, "3.00")
    assert (
        len(next(iter(kept(path).companies.values())).rows["Payment"])
        == len(company.rows["Payment"]) + 1
    )


def _old_format(state: SandboxState) -> str:
    """The state file as save() wrote it before the journal: no generation, no answers."""
    data = state.to_dict()
    data.pop("answers")
    return dumps(data)
