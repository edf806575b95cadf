"""Reconciliation finds every kind of difference between the three ledgers, and none when
they agree."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from portal.payments.gateway import Outcome, ProcessorTransaction
from portal.payments.models import PaymentState
from portal.reconcile import PortalPayment, Tally, reconcile
from sync.accounting import PaymentRecord

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=3)
KEY = "P0123456789ABCDEF01"
OTHER_KEY = "P00000000000000000A"


def paid(
    pid: int = 1,
    trans: str | None = "6001",
    total: str = "20.00",
    key: str = KEY,
    state: PaymentState = PaymentState.SUCCEEDED,
    qbo_id: str | None = "q1",
    at: datetime = EARLIER,
) -> PortalPayment:
    return PortalPayment(
        id=pid,
        state=state,
        gateway_key=key,
        total=Decimal(total),
        created_at=at,
        trans_id=trans,
        qbo_payment_id=qbo_id,
        charged_at=at if state is PaymentState.SUCCEEDED else None,
    )


def in_qbo(ref: str | None = "6001", total: str = "20.00", qid: str = "q1") -> PaymentRecord:
    return PaymentRecord(
        id=qid,
        sync_token="0",
        customer_id="58",
        txn_date=date(2026, 6, 1),
        total=Decimal(total),
        reference=ref,
    )


def charged(
    trans: str = "6001",
    amount: str = "20.00",
    key: str | None = KEY,
    outcome: Outcome = Outcome.APPROVED,
    status: str = "settledSuccessfully",
) -> ProcessorTransaction:
    return ProcessorTransaction(trans, key, Decimal(amount), status, outcome, EARLIER)


def test_three_ledgers_that_agree_report_no_difference():
    report = reconcile([paid()], [in_qbo()], [charged()], NOW)
    assert report.ok
    assert report.differences == [] and report.waiting == [] and report.needs_review == []
    assert set(report.counts.values()) == {Tally(1, Decimal("20.00"))}
    assert report.lines()[-1] == "the three ledgers agree"


def test_a_charge_the_portal_never_recorded_is_a_difference():
    report = reconcile([], [], [charged(trans="6009", key=OTHER_KEY)], NOW)
    [line] = report.differences
    assert line.startswith("charged but not recorded in the portal")
    assert "6009" in line and OTHER_KEY in line and "$20.00" in line


def test_a_charge_whose_portal_payment_was_declined_names_the_payment():
    declined = paid(pid=7, trans=None, state=PaymentState.DECLINED, qbo_id=None)
    [line] = reconcile([declined], [], [charged()], NOW).differences
    assert "charged but not recorded in the portal" in line
    assert "portal payment 7 with that key is declined" in line


def test_a_second_charge_with_the_same_key_is_a_difference():
    extra = charged(trans="6002")
    [line] = reconcile([paid()], [in_qbo()], [charged(), extra], NOW).differences
    assert "charged but not recorded in the portal: processor transaction 6002" in line
    assert "succeeded as transaction 6001" in line


def test_charges_made_outside_the_portal_are_left_out():
    foreign = [charged(trans="7001", key=None), charged(trans="7002", key="INV-1001")]
    report = reconcile([paid()], [in_qbo()], [charged(), *foreign], NOW)
    assert report.ok
    assert report.counts["processor"] == Tally(1, Decimal("20.00"))


def test_a_success_the_processor_does_not_list_is_recorded_but_not_charged():
    [line] = reconcile([paid()], [in_qbo()], [], NOW).differences
    assert line.startswith("recorded but not charged: portal payment 1")
    assert "not listed by the processor" in line


def test_a_success_the_processor_voided_is_recorded_but_not_charged():
    voided = charged(outcome=Outcome.DECLINED, status="voided", amount="0")
    [line] = reconcile([paid()], [in_qbo()], [voided], NOW).differences
    assert "recorded but not charged" in line and "is voided (declined)" in line


def test_a_success_missing_from_quickbooks_for_over_an_hour_is_a_difference():
    report = reconcile([paid(qbo_id=None)], [], [charged()], NOW)
    [line] = report.differences
    assert line.startswith("charged but not in QuickBooks: portal payment 1")
    assert "waiting for its write-back" in line


def test_a_write_back_queued_under_an_hour_is_waiting_not_a_difference():
    recent = paid(qbo_id=None, at=NOW - timedelta(minutes=5))
    report = reconcile([recent], [], [charged()], NOW)
    assert report.ok
    [line] = report.waiting
    assert "portal payment 1" in line and "6001" in line
    assert any(out.startswith("waiting for write-back:") for out in report.lines())


def test_a_written_payment_gone_from_quickbooks_is_a_difference():
    [line] = reconcile([paid(qbo_id="q1")], [], [charged()], NOW).differences
    assert "charged but not in QuickBooks" in line
    assert "written as QuickBooks Payment q1, but no Payment has PaymentRefNum 6001" in line


def test_the_same_charge_in_quickbooks_twice_is_a_difference():
    twice = [in_qbo(qid="q1"), in_qbo(qid="q2")]
    [line] = reconcile([paid()], twice, [charged()], NOW).differences
    assert line == "in QuickBooks twice: transaction 6001 is on Payments q1, q2 ($20.00, $20.00)"
    assert reconcile([paid()], twice, [charged()], NOW).counts["QuickBooks"].count == 2


def test_payments_the_office_recorded_in_quickbooks_are_left_out():
    office = [in_qbo(ref=None, qid="q7"), in_qbo(ref="cheque 77", qid="q8")]
    report = reconcile([paid()], [in_qbo(), *office], [charged()], NOW)
    assert report.ok
    assert report.counts["QuickBooks"] == Tally(1, Decimal("20.00"))


def test_amounts_that_differ_between_portal_and_processor_are_a_difference():
    [line] = reconcile([paid()], [in_qbo()], [charged(amount="25.00")], NOW).differences
    assert line == (
        "amounts differ for transaction 6001: portal $20.00, processor $25.00, QuickBooks $20.00"
    )


def test_amounts_that_differ_between_portal_and_quickbooks_are_a_difference():
    [line] = reconcile([paid()], [in_qbo(total="2.00")], [charged()], NOW).differences
    assert "amounts differ for transaction 6001" in line and "QuickBooks $2.00" in line


def test_amounts_that_differ_between_processor_and_quickbooks_are_a_difference():
    stray = charged(trans="6009", key=OTHER_KEY)
    report = reconcile([], [in_qbo(ref="6009", total="19.00")], [stray], NOW)
    assert len(report.differences) == 2
    assert report.differences[1] == (
        "amounts differ for transaction 6009: processor $20.00, QuickBooks $19.00"
    )


def test_a_quickbooks_payment_for_a_declined_charge_is_a_difference():
    declined = paid(trans="6001", state=PaymentState.DECLINED, qbo_id=None)
    no_money = charged(outcome=Outcome.DECLINED, status="declined", amount="0")
    [line] = reconcile([declined], [in_qbo()], [no_money], NOW).differences
    assert line == (
        "in QuickBooks but not charged: Payment q1 has PaymentRefNum 6001, which is declined at "
        "the processor"
    )


def test_a_quickbooks_payment_for_a_charge_no_ledger_shows_is_a_difference():
    declined = paid(trans="6001", state=PaymentState.DECLINED, qbo_id=None)
    [line] = reconcile([declined], [in_qbo()], [], NOW).differences
    assert line.startswith("in QuickBooks but not charged: Payment q1 has PaymentRefNum 6001")


def test_a_payment_unknown_under_an_hour_needs_review_but_is_no_difference():
    unknown = paid(
        trans=None, state=PaymentState.UNKNOWN, qbo_id=None, at=NOW - timedelta(minutes=2)
    )
    report = reconcile([unknown], [], [charged(trans="6001")], NOW)
    assert report.ok
    [line] = report.needs_review
    assert "portal payment 1" in line and "is unknown" in line


def test_a_payment_unknown_for_over_an_hour_is_a_difference():
    unknown = paid(trans=None, state=PaymentState.UNKNOWN, qbo_id=None)
    report = reconcile([unknown], [], [], NOW)
    [line] = report.differences
    assert line.startswith("needs review: portal payment 1") and "is unknown since" in line
    assert report.needs_review == []


def test_a_payment_pending_for_over_an_hour_needs_review():
    stuck = paid(trans=None, state=PaymentState.PENDING, qbo_id=None)
    [line] = reconcile([stuck], [], [], NOW).differences
    assert "is pending since" in line


def test_declined_payments_are_no_difference():
    declined = paid(trans=None, state=PaymentState.DECLINED, qbo_id=None)
    report = reconcile([declined], [], [], NOW)
    assert report.ok
    assert report.counts["portal"] == Tally(0, Decimal("0.00"))


def test_the_report_lists_each_ledger_and_every_difference():
    lines = reconcile([paid()], [], [], NOW).lines()
    assert lines[0].split() == ["ledger", "payments", "total"]
    assert lines[1].split() == ["portal", "1", "$20.00"]
    assert lines[2].split() == ["QuickBooks", "0", "$0.00"]
    assert lines[3].split() == ["processor", "0", "$0.00"]
    assert lines[4] == "2 difference(s):"
    assert len(lines) == 7
