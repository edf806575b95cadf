"""bench/autopay_bench.py still runs: its measurements at a tiny size, structure only (no
timing is asserted)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from bench import autopay_bench


def test_the_autopay_bench_charges_each_customer_once_and_batches_the_write_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    try:
        run, write_back, again = autopay_bench.measure(tmp_path / "run", 12)
    finally:  # later tests read werkzeug's access log: setLevel (not the attribute) resets
        werkzeug.setLevel(level)  # the logger's cache of what is enabled

    assert run.customers > 0
    assert run.charges == run.gateway_calls == run.customers
    assert write_back.batches == math.ceil(run.charges / 30) <= write_back.qbo_calls
    assert again.charges == again.gateway_calls == 0
    assert "peak RSS MB" in autopay_bench.table([run, write_back, again])
