"""The staff's CSV export: every matching event, written a chunk at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from portal.audit.queries import Row

HEADER = [
    "id",
    "when (UTC)",
    "customer id",
    "customer",
    "who",
    "action",
    "what",
    "before",
    "after",
    "from address",
    "device",
]
# A cell a spreadsheet would read as a formula (CSV injection): it is written as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """The value as a CSV cell, a leading ' when a spreadsheet would run it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def lines(rows: Iterable[Row]) -> Iterator[str]:
    """The header, then one CSV line per event."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(HEADER)
    yield flush()
    for row in rows:
        e = row.event
        writer.writerow(
            cell(v)
            for v in (
                e.id,
                e.at.isoformat(timespec="seconds"),
                e.customer_id,
                row.customer,
                e.actor_label,
                e.action,
                e.summary,
                e.before,
                e.after,
                e.address,
                e.user_agent,
            )
        )
        yield flush()
