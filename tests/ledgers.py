"""A closing check for tests that move money: the three ledgers agree."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask

from portal.payments.gateway import PaymentGateway
from portal.reconcile import AdapterFactory, Report, gather


def assert_ledgers_agree(
    app: Flask,
    since: date | None = None,
    *,
    strict: bool = False,
    gateway: PaymentGateway | None = None,
    adapters: AdapterFactory | None = None,
) -> Report:
    """Fail with every difference when portal, QuickBooks and processor disagree; `strict`
    also fails while a write-back is waiting or a payment is still being settled. The
    processor and QuickBooks are the app's unless given (e.g. the in-memory fakes)."""
    report = gather(app, since, gateway=gateway, adapters=adapters)
    pending = report.waiting + report.needs_review if strict else []
    if not report.ok or pending:
        pytest.fail("the ledgers disagree:\n  " + "\n  ".join(report.lines()), pytrace=False)
    return report
