"""Row ids from URLs, forms and query strings: ASCII digits within the database's integer range.

Python's `int()` and `str.isdigit()` accept other scripts' digits ("١٢") and superscripts ("²"),
and an id beyond the 32-bit `Integer` columns makes PostgreSQL refuse the query (a 500). Every
id from outside goes through here, so such input is a 404 or a 400 instead."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from werkzeug.routing import BaseConverter, ValidationError

# Every id column is sa.Integer (32-bit on PostgreSQL); nothing above this can name a row.
MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_id(raw: str | None) -> int | None:
    """The id `raw` names, or None if it is not ASCII digits in 1..MAX_ID."""
    if raw is None or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


class IdConverter(BaseConverter):
    """`<int:name>` in a route: only an id that can exist matches (anything else is a 404)."""

    regex = r"[0-9]{1,10}"
    weight = 50
    part_isolating = True

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(map)  # min/max/signed of Werkzeug's int are not used by our routes

    def to_python(self, value: str) -> int:
        parsed = parse_id(value)
        if parsed is None:
            raise ValidationError()
        return parsed

    def to_url(self, value: Any) -> str:
        return str(int(value))


def init_app(app: Flask) -> None:
    """Make `<int:...>` in every route this converter (call before blueprints are registered)."""
    app.url_map.converters["int"] = IdConverter
