"""The pure rules: how much a late fee is, which period it is for, and the overdue ladder."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from portal.config import ConfigError, OverdueSettings, load_settings
from portal.overdue.ladder import OverdueState, state_for
from portal.overdue.policy import (
    FeeKind,
    Frequency,
    LateFeePolicy,
    PolicyError,
    add_months,
    fee_for,
    fee_period,
    parse_decimal,
)

FLAT = LateFeePolicy(
    enabled=True,
    grace_days=10,
    kind=FeeKind.FLAT,
    amount=Decimal("25.00"),
    percent=Decimal("1.50"),
    minimum=Decimal("0.00"),
    cap=None,
    frequency=Frequency.ONCE,
    item_name="Late fee",
)
PERCENT = dataclasses.replace(FLAT, kind=FeeKind.PERCENT)
MONTHLY = dataclasses.replace(FLAT, frequency=Frequency.MONTHLY)
LADDER = OverdueSettings()
DUE = date(2026, 2, 4)


def test_a_flat_fee_is_the_amount_whatever_the_balance():
    assert fee_for(FLAT, Decimal("1000.00")) == Decimal("25.00")
    assert fee_for(FLAT, Decimal("0.01")) == Decimal("25.00")


def test_nothing_is_charged_on_nothing_owed():
    assert fee_for(FLAT, Decimal("0.00")) == Decimal("0.00")
    assert fee_for(PERCENT, Decimal("-5.00")) == Decimal("0.00")


def test_a_percentage_is_rounded_half_up_to_cents_once():
    assert fee_for(PERCENT, Decimal("100.00")) == Decimal("1.50")
    assert fee_for(PERCENT, Decimal("0.30")) == Decimal("0.00")  # 0.0045
    assert fee_for(PERCENT, Decimal("3.00")) == Decimal("0.05")  # 0.045: half up, not to even
    # 0.04485: rounding twice (0.045, then 0.05) would overcharge a cent
    assert fee_for(PERCENT, Decimal("2.99")) == Decimal("0.04")
    two_and_a_half = dataclasses.replace(PERCENT, percent=Decimal("2.50"))
    assert fee_for(two_and_a_half, Decimal("1.00")) == Decimal("0.03")  # 0.025
    assert fee_for(two_and_a_half, Decimal("1234.57")) == Decimal("30.86")  # 30.86425


def test_the_minimum_raises_a_small_fee_and_the_cap_cuts_a_big_one():
    bounded = dataclasses.replace(PERCENT, minimum=Decimal("5.00"), cap=Decimal("40.00"))
    assert fee_for(bounded, Decimal("10.00")) == Decimal("5.00")
    assert fee_for(bounded, Decimal("1000.00")) == Decimal("15.00")
    assert fee_for(bounded, Decimal("10000.00")) == Decimal("40.00")
    assert fee_for(dataclasses.replace(FLAT, cap=Decimal("20.00")), Decimal(50)) == Decimal("20.00")


def test_a_minimum_equal_to_the_cap_is_allowed_but_a_cap_below_it_is_not():
    same = dataclasses.replace(PERCENT, minimum=Decimal("9.00"), cap=Decimal("9.00"))
    assert fee_for(same, Decimal("1.00")) == Decimal("9.00")
    with pytest.raises(PolicyError, match="cap cannot be less than the minimum"):
        dataclasses.replace(PERCENT, minimum=Decimal("9.00"), cap=Decimal("8.99"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grace_days": -1}, "Grace days"),
        ({"amount": Decimal(0)}, "flat fee must be more than zero"),
        ({"kind": FeeKind.PERCENT, "percent": Decimal(0)}, "percentage must be more than 0"),
        ({"kind": FeeKind.PERCENT, "percent": Decimal("100.01")}, "at most 100"),
        ({"minimum": Decimal("-1")}, "minimum cannot be negative"),
        ({"item_name": "  "}, "QuickBooks item"),
    ],
)
def test_a_policy_that_cannot_charge_sensibly_is_refused(changes, message):
    with pytest.raises(PolicyError, match=message):
        dataclasses.replace(FLAT, **changes)


@pytest.mark.parametrize(
    ("raw", "expected"), [("25", "25.00"), ("$1,250.5", "1250.50"), ("1.5%", "1.50")]
)
def test_amounts_are_read_as_exact_decimals(raw, expected):
    assert parse_decimal(raw, "amount") == Decimal(expected)


@pytest.mark.parametrize("raw", ["1.234", "-1", "abc", "", "1e3", "0.5.1"])
def test_amounts_with_more_than_two_decimals_or_not_numbers_are_refused(raw):
    with pytest.raises(PolicyError, match="at most 2 decimals"):
        parse_decimal(raw, "amount")


def test_no_fee_is_due_until_the_grace_days_have_passed():
    assert fee_period(FLAT, DUE, date(2026, 2, 14)) is None  # due + 10 days: still grace
    assert fee_period(FLAT, DUE, date(2026, 2, 15)) == "once"  # past due by more than 10
    assert fee_period(dataclasses.replace(FLAT, grace_days=0), DUE, DUE) is None
    assert fee_period(dataclasses.replace(FLAT, grace_days=0), DUE, date(2026, 2, 5)) == "once"


def test_a_once_policy_has_one_period_forever():
    assert fee_period(FLAT, DUE, date(2027, 6, 1)) == "once"


def test_monthly_periods_start_on_the_first_fee_day_each_month():
    assert fee_period(MONTHLY, DUE, date(2026, 2, 15)) == "2026-02"
    assert fee_period(MONTHLY, DUE, date(2026, 3, 14)) == "2026-02"
    assert fee_period(MONTHLY, DUE, date(2026, 3, 15)) == "2026-03"
    assert fee_period(MONTHLY, DUE, date(2027, 1, 20)) == "2027-01"


def test_monthly_periods_from_a_month_end_never_skip_or_repeat_a_month():
    due = date(2026, 1, 20)  # first fee day 2026-01-31
    days = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 30), date(2026, 3, 31)]
    assert [fee_period(MONTHLY, due, d) for d in days] == [
        "2026-01",
        "2026-02",
        "2026-02",
        "2026-03",
    ]
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


@pytest.mark.parametrize(
    ("today", "state"),
    [
        (date(2026, 2, 4), OverdueState.CURRENT),  # the due date itself
        (date(2026, 2, 5), OverdueState.PAST_DUE),  # day 1
        (date(2026, 2, 18), OverdueState.PAST_DUE),  # day 14
        (date(2026, 2, 19), OverdueState.WARNING),  # day 15
        (date(2026, 3, 5), OverdueState.WARNING),  # day 29
        (date(2026, 3, 6), OverdueState.SUSPENDED),  # day 30
    ],
)
def test_the_ladder_steps_on_days_1_15_and_30(today, state):
    assert state_for(DUE, today, LADDER).name is state


def test_nothing_overdue_is_current_with_no_message_or_date():
    status = state_for(None, date(2026, 5, 1), LADDER)
    assert status.name is OverdueState.CURRENT
    assert (status.message, status.turn_off_date, status.blocks_changes) == ("", None, False)


def test_the_warning_names_the_turn_off_date_and_blocks_service_changes():
    status = state_for(DUE, date(2026, 2, 20), LADDER)
    assert status.turn_off_date == date(2026, 3, 6)
    assert status.message == (
        "Service will be turned off on March 6, 2026 unless the overdue balance is paid."
    )
    assert status.blocks_changes and not status.service_off
    assert status.since == date(2026, 2, 19)


def test_suspension_marks_service_off_and_the_actions_follow_the_settings():
    status = state_for(DUE, date(2026, 4, 1), LADDER)
    assert status.service_off and status.blocks_changes and "March 6, 2026" in status.message
    lenient = OverdueSettings(warning_blocks_changes=False, suspended_service_off=False)
    assert not state_for(DUE, date(2026, 2, 20), lenient).blocks_changes
    assert not state_for(DUE, date(2026, 4, 1), lenient).service_off
    past_due = state_for(DUE, date(2026, 2, 6), LADDER)
    assert past_due.turn_off_date == date(2026, 3, 6) and not past_due.blocks_changes


def _load(tmp_path: Path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[portal]\ninstance_path = "{tmp_path}"\nsecret_key = "k"\n' + text)
    return load_settings(path, environ={})


def test_late_fee_and_ladder_settings_load_with_env_overrides(tmp_path: Path):
    settings = _load(tmp_path, '[late_fees]\nenabled = true\nkind = "percent"\ncap = "40.00"\n')
    assert settings.late_fees.enabled and settings.late_fees.cap == "40.00"
    env = {"PORTAL_LATE_FEES_ENABLED": "no", "PORTAL_OVERDUE_SUSPEND_DAYS": "45"}
    path = tmp_path / "config.toml"
    again = load_settings(path, environ=env)
    assert not again.late_fees.enabled and again.overdue.suspend_days == 45


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[late_fees]\namount = '25.001'\n", "late_fees.amount: must be a number"),
        ("[late_fees]\nenabled = 'maybe'\n", "late_fees.enabled: must be true or false"),
        ("[late_fees]\nminimum = '10'\ncap = '5'\n", "late_fees.cap: must not be less"),
        ("[late_fees]\nkind = 'percent'\npercent = '0'\n", "late_fees.percent"),
        ("[overdue]\nwarning_days = 40\n", "overdue.warning_days"),
        ("[overdue]\nwarning_message = 'off on {day}'\n", "overdue.warning_message"),
    ],
)
def test_a_bad_late_fee_or_ladder_setting_stops_start_up_naming_the_key(
    tmp_path: Path, text: str, message: str
):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)
