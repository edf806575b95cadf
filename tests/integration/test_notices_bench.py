"""bench/notices_bench.py still runs: its measurements at a tiny size, structure only (no
timing is asserted)."""

from __future__ import annotations

import os
from pathlib import Path

from bench import notices_bench


def test_the_notices_bench_measures_reminders_and_deliveries_at_a_tiny_size(tmp_path: Path):
    report = notices_bench.measure(
        tmp_path, [10, 20], os.environ.get("PORTAL_TEST_DATABASE_URL"), warm=False
    )

    assert [r.customers for r in report.runs] == [10, 20]
    assert all(r.notices > 0 and r.notices == r.due for r in report.runs)
    assert report.repeat.notices == 0
    assert report.baseline.notices == report.runs[-1].notices
    assert report.baseline.statements > report.runs[-1].statements
    labels = [row.label for row in report.sends]
    assert labels[0].startswith("e-mail") and any(x.startswith("SMS") for x in labels)
    assert all(row.messages > 0 for row in report.sends)
    assert "baseline / ours" in notices_bench.tables(report, "SQLite")
