"""Small helpers shared by the sandbox modules: clocks, timestamps, money and JSON."""

from __future__ import annotations

import json
import secrets
import string
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

Clock = Callable[[], datetime]

CENT = Decimal("0.01")
ZERO = Decimal("0")
DEFAULT_UTC_OFFSET = timedelta(hours=-7)
_ALNUM = string.ascii_letters + string.digits


def system_clock() -> datetime:
    """Return the real current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class ManualClock:
    """A settable clock for tests: call it to read the time, advance() to move it forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or system_clock()).replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        """Return the clock's current time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        """Move the clock forward by seconds (and/or timedelta keyword arguments)."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to an absolute, timezone-aware moment."""
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        with self._lock:
            self._now = moment


def company_tz(offset: timedelta) -> timezone:
    """Return the fixed-offset timezone a company reports its timestamps in."""
    return timezone(offset)


def format_timestamp(moment: datetime, offset: timedelta) -> str:
    """Format like QBO: 2015-07-24T10:35:08-07:00 (one-second precision, company offset)."""
    return moment.astimezone(timezone(offset)).replace(microsecond=0).isoformat()


def format_date(moment: datetime, offset: timedelta) -> str:
    """Return the company-local calendar date of a moment as YYYY-MM-DD."""
    return moment.astimezone(timezone(offset)).date().isoformat()


def parse_timestamp(text: str, offset: timedelta) -> datetime:
    """Parse ISO-8601 (date, naive or aware datetime, Z); naive values use the company offset."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone(offset))
    return parsed


def to_decimal(value: Any) -> Decimal | None:
    """Coerce a JSON value to Decimal; None and "" (python-quickbooks' 'empty') give None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("boolean is not a number")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def money(value: Decimal) -> Decimal:
    """Round to cents the way QuickBooks does (half up)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_bool(value: Any, default: bool = True) -> bool:
    """Read a JSON boolean that clients sometimes send as a string."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def random_token(length: int, prefix: str = "") -> str:
    """Return an unguessable alphanumeric token."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def _json_default(value: Any) -> Any:
    """Serialize Decimal as a JSON number (integral values without a fraction)."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        # float repr round-trips every cents-sized amount exactly back to the same digits
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(payload: Any) -> str:
    """Serialize to compact JSON, Decimals as numbers."""
    return json.dumps(payload, default=_json_default, separators=(",", ":"))


def loads(raw: str | bytes) -> Any:
    """Parse JSON with every non-integer number as Decimal."""
    return json.loads(raw, parse_float=Decimal)
