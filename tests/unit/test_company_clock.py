"""The company's clock: "today" is the QuickBooks company's date, never UTC's, across midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from portal.clock import date_in, zone_name
from portal.config import OverdueSettings, parse_zone
from portal.overdue.ladder import OverdueState, state_for
from portal.overdue.policy import FeeKind, Frequency, LateFeePolicy, fee_period

LOS_ANGELES = parse_zone("America/Los_Angeles")
STILL_FEB_28_THERE = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)  # 19:00 on Feb 28 in California
MARCH_1_THERE = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)  # 00:30 on Mar 1 in California
DUE = date(2026, 2, 28)
NO_GRACE = LateFeePolicy(
    enabled=True,
    grace_days=0,
    kind=FeeKind.FLAT,
    amount=Decimal("25.00"),
    percent=Decimal("1.50"),
    minimum=Decimal("0.00"),
    cap=None,
    frequency=Frequency.ONCE,
    item_name="Late fee",
)


def test_hours_after_midnight_utc_it_is_still_yesterday_in_california():
    assert date_in([LOS_ANGELES], STILL_FEB_28_THERE) == date(2026, 2, 28)
    assert date_in([LOS_ANGELES], MARCH_1_THERE) == date(2026, 3, 1)
    assert date_in([parse_zone("-08:00")], STILL_FEB_28_THERE) == date(2026, 2, 28)


def test_an_invoice_due_yesterday_in_utc_is_not_overdue_before_midnight_in_the_company():
    day = date_in([LOS_ANGELES], STILL_FEB_28_THERE)
    assert state_for(DUE, day, OverdueSettings()).name is OverdueState.CURRENT
    assert fee_period(NO_GRACE, DUE, day) is None
    later = date_in([LOS_ANGELES], MARCH_1_THERE)
    assert state_for(DUE, later, OverdueSettings()).name is OverdueState.PAST_DUE
    assert fee_period(NO_GRACE, DUE, later) == "once"


def test_a_company_ahead_of_utc_reaches_the_next_day_first():
    sydney = parse_zone("Australia/Sydney")
    assert date_in([sydney], datetime(2026, 2, 28, 14, 0, tzinfo=UTC)) == date(2026, 3, 1)


def test_daylight_saving_time_is_followed_with_an_iana_name():
    summer = datetime(2026, 7, 1, 6, 30, tzinfo=UTC)  # 23:30 PDT (UTC-7) on June 30
    assert date_in([LOS_ANGELES], summer) == date(2026, 6, 30)
    assert date_in([parse_zone("-08:00")], summer) == date(2026, 6, 30)
    assert date_in([LOS_ANGELES], summer + timedelta(hours=1)) == date(2026, 7, 1)


def test_with_several_companies_the_date_is_the_one_furthest_behind():
    zones = [parse_zone("+10:00"), LOS_ANGELES]
    assert date_in(zones, datetime(2026, 3, 1, 20, 0, tzinfo=UTC)) == date(2026, 3, 1)


def test_without_a_known_zone_the_date_is_utc():
    assert date_in([], STILL_FEB_28_THERE) == date(2026, 3, 1)


def test_a_naive_moment_has_no_company_date():
    with pytest.raises(ValueError):
        date_in([LOS_ANGELES], STILL_FEB_28_THERE.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("offset", "name"),
    [
        (timedelta(hours=-8), "-08:00"),
        (timedelta(hours=-7), "-07:00"),
        (timedelta(hours=5, minutes=30), "+05:30"),
        (timedelta(hours=-3, minutes=-30), "-03:30"),
        (timedelta(0), "+00:00"),
    ],
)
def test_offsets_are_written_as_quickbooks_stamps_them_and_read_back(offset, name):
    assert zone_name(offset) == name
    zone = parse_zone(name)
    assert zone == timezone(offset)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert moment.astimezone(zone).utcoffset() == offset
