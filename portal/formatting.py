"""Dates, times and money as people read them: Babel, in the company's locale and time zone.

Templates, PDFs and e-mails use the filters registered here — `money`, `day`, `moment` — so
that "$1,300.00", "Mar 11, 2026" and "1:50 PM PST" are written one way everywhere, never as
ISO dates, "-$590.20" or "13:50 UTC".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from flask import Flask, current_app, g, has_app_context

from portal import db
from portal.accounts import places
from portal.config import Settings

CENT = Decimal("0.01")


def _locale() -> str:
    if has_app_context():
        settings: Settings = current_app.config["PORTAL_SETTINGS"]
        return settings.portal.locale
    return "en_US"


def _currency() -> str:
    if has_app_context():
        settings: Settings = current_app.config["PORTAL_SETTINGS"]
        return settings.portal.currency
    return "USD"


def company_zone() -> tzinfo:
    """The zone times are shown in (`clock.display_zone`), looked up once per app context:
    a page of 50 rows asks it 50 times."""
    if not has_app_context():
        return UTC
    zone: tzinfo | None = g.get("company_zone")
    if zone is None:
        from portal.clock import display_zone

        settings: Settings = current_app.config["PORTAL_SETTINGS"]
        zone = g.company_zone = display_zone(settings.portal.timezone, db.session)
    return zone


def cents(value: Decimal | int | str) -> Decimal:
    """Round half-up to cents: the one place shown amounts are rounded."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal | int | str | None, signed: bool = False) -> str:
    """`$1,300.00`. A negative amount is money owed to the customer, `$590.20 credit`; with
    `signed` (a change, as in a ledger) it is `-$590.20` and a positive one `+$1,300.00`."""
    if value is None:
        return ""
    amount = cents(value)
    text = format_currency(abs(amount), _currency(), locale=_locale())
    if amount < 0:
        return f"-{text}" if signed else f"{text} credit"
    if signed and amount > 0:
        return f"+{text}"
    return text


def number(value: Decimal | int | str) -> str:
    """`1,300.00`: an amount without its currency sign (tables under a "$" heading)."""
    return format_decimal(cents(value), format="#,##0.00", locale=_locale())


def day(value: date | datetime | None, style: str = "medium") -> str:
    """`Mar 11, 2026` (a datetime is first moved into the company's zone)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _in_company_zone(value).date()
    return format_date(value, format=style, locale=_locale())


def moment(value: datetime | None, style: str = "medium") -> str:
    """`Mar 11, 2026, 1:50 PM PST`: an instant in the company's time zone."""
    if value is None:
        return ""
    local = _in_company_zone(value)
    locale = Locale.parse(_locale())
    pattern = str(locale.datetime_formats.get(style, "{1}, {0}"))
    when = format_date(local.date(), format=style, locale=locale)
    at = format_time(local, format="short", locale=locale, tzinfo=local.tzinfo)
    return f"{pattern.replace('{1}', when).replace('{0}', at)} {_zone_label(local)}"


def local_date(value: datetime) -> date:
    """The company's date at an instant (a payment at 02:00 UTC was made the evening before)."""
    return _in_company_zone(value).date()


def month_name(value: date) -> str:
    """`Mar`: a month's short name, as chart labels show it."""
    return format_date(value, format="MMM", locale=_locale())


def clock_time(value: datetime | None) -> str:
    """`1:50 PM PST`: the time of day of an instant in the company's zone."""
    if value is None:
        return ""
    local = _in_company_zone(value)
    at = format_time(local, format="short", locale=_locale(), tzinfo=local.tzinfo)
    return f"{at} {_zone_label(local)}"


def _in_company_zone(value: datetime) -> datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(company_zone())


# First match wins: Edge and Opera also say Chrome, and Chrome also says Safari.
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
DEVICE_LENGTH = 60


def device(user_agent: str | None) -> str:
    """`Firefox on Windows`: a browser's user agent, shortened for people to read."""
    raw = (user_agent or "").strip()
    if not raw:
        return "Unknown device"
    browser = next((name for mark, name in _BROWSERS if mark in raw), None)
    system = next((name for mark, name in _SYSTEMS if mark in raw), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system or ""
    return raw if len(raw) <= DEVICE_LENGTH else raw[: DEVICE_LENGTH - 1] + "…"


def _zone_label(local: datetime) -> str:
    name = local.tzname() or ""
    return name.replace("UTC", "GMT") if name.startswith("UTC") and name != "UTC" else name


def init_app(app: Flask) -> None:
    """Register the filters for templates (pages, PDFs and e-mails)."""
    filters: dict[str, Any] = {
        "money": money,
        "number": number,
        "day": day,
        "moment": moment,
        "clock_time": clock_time,
        "device": device,
        "place": places.place,
    }
    app.jinja_env.filters.update(filters)
    app.context_processor(
        lambda: {"money_locale": _locale().replace("_", "-"), "currency": _currency()}
    )
