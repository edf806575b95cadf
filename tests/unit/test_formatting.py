"""Money and dates as people read them: Babel, in the configured locale and company zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask

from portal.config import PortalSettings, Settings
from portal.formatting import clock_time, day, local_date, moment, money, month_name, number

WINTER = datetime(2026, 3, 1, 21, 50, tzinfo=UTC)  # 1:50 PM in California, standard time
SUMMER = datetime(2026, 7, 1, 20, 50, tzinfo=UTC)  # 1:50 PM in California, daylight time


@pytest.fixture
def company(request: pytest.FixtureRequest) -> Iterator[None]:
    """An app context whose [portal] settings are the test's parameters."""
    app = Flask(__name__)
    app.config["PORTAL_SETTINGS"] = Settings(portal=PortalSettings(**request.param))
    with app.app_context():
        yield


LOS_ANGELES = {"timezone": "America/Los_Angeles"}


def plain(text: str) -> str:
    """CLDR puts no-break spaces before "PM" and in French thousands; compare with spaces."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_an_amount_is_written_with_its_currency_sign_and_thousands() -> None:
    assert money(Decimal("1300")) == "$1,300.00"
    assert money("0.5") == "$0.50"
    assert number(Decimal("1300")) == "1,300.00"


def test_a_negative_amount_is_a_credit_or_with_signed_a_minus() -> None:
    assert money(Decimal("-590.20")) == "$590.20 credit"
    assert money(Decimal("-590.20"), signed=True) == "-$590.20"
    assert money(Decimal("1300"), signed=True) == "+$1,300.00"


def test_half_a_cent_rounds_up_not_to_even() -> None:
    assert money(Decimal("1234.565")) == "$1,234.57"
    assert number(Decimal("1234.565")) == "1,234.57"
    assert money(Decimal("0.125")) == "$0.13"


def test_nothing_is_written_for_a_missing_amount_or_date() -> None:
    assert money(None) == "" and day(None) == "" and moment(None) == ""


def test_a_date_is_written_with_the_month_s_short_name() -> None:
    assert day(date(2026, 3, 11)) == "Mar 11, 2026"
    assert month_name(date(2026, 3, 1)) == "Mar"


@pytest.mark.parametrize("company", [LOS_ANGELES], indirect=True)
def test_an_instant_is_shown_in_the_company_zone_with_standard_time(company: None) -> None:
    assert plain(moment(WINTER)) == "Mar 1, 2026, 1:50 PM PST"
    assert plain(clock_time(WINTER)) == "1:50 PM PST"


@pytest.mark.parametrize("company", [LOS_ANGELES], indirect=True)
def test_an_instant_in_summer_is_shown_with_daylight_time(company: None) -> None:
    assert plain(moment(SUMMER)) == "Jul 1, 2026, 1:50 PM PDT"


@pytest.mark.parametrize("company", [LOS_ANGELES], indirect=True)
def test_an_evening_instant_keeps_the_company_date_not_the_utc_one(company: None) -> None:
    evening = datetime(2026, 3, 12, 3, 0, tzinfo=UTC)  # 7 PM on March 11 in California
    assert day(evening) == "Mar 11, 2026"
    assert local_date(evening) == date(2026, 3, 11)
    assert "UTC" not in moment(evening)


@pytest.mark.parametrize("company", [LOS_ANGELES], indirect=True)
def test_a_naive_stored_instant_is_read_as_utc(company: None) -> None:
    assert plain(moment(WINTER.replace(tzinfo=None))) == "Mar 1, 2026, 1:50 PM PST"


@pytest.mark.parametrize(
    "company",
    [{"locale": "fr_CA", "currency": "CAD", "timezone": "America/Toronto"}],
    indirect=True,
)
def test_a_french_canadian_company_writes_money_and_dates_its_own_way(company: None) -> None:
    assert plain(money(Decimal("1300"))) == "1 300,00 $"
    assert money(Decimal("-5")).endswith(" credit")
    assert day(date(2026, 3, 11)) == "11 mars 2026"
    assert plain(moment(WINTER)).startswith("1 mars 2026, 16 h 50 ")  # 4:50 PM in Toronto


@pytest.mark.parametrize("company", [{"locale": "en_GB", "currency": "GBP"}], indirect=True)
def test_a_british_company_writes_pounds_and_day_first_dates(company: None) -> None:
    assert money(Decimal("1300")) == "£1,300.00"
    assert day(date(2026, 3, 11)) == "11 Mar 2026"
