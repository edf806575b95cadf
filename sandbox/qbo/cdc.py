"""Change data capture: rows and tombstones changed since a moment, capped at 1000 in total."""

from __future__ import annotations

from bisect import bisect_left
from datetime import timedelta
from typing import Any

from .faults import QboFault, invalid_request
from .store import URL_NAMES, Company
from .util import parse_timestamp

CDC_MAX_OBJECTS = 1000
CDC_MAX_AGE = timedelta(days=30)
_BY_UPDATE = ((("metadata", "lastupdatedtime"), False),)


def parse_entities(raw: str) -> list[str]:
    """Validate the comma-separated entities parameter."""
    names = [name.strip() for name in raw.split(",") if name.strip()]
    if not names:
        raise invalid_request("The entities parameter is required", "entities")
    entities = []
    for name in names:
        entity = URL_NAMES.get(name.lower())
        if entity is None:
            raise invalid_request(f"Entity {name} is not supported by CDC", "entities")
        entities.append(entity)
    return entities


def change_data_capture(company: Company, entities: list[str], changed_since: str) -> list[Any]:
    """Return the CDCResponse list; raises QboFault for a bad or too-old changedSince."""
    try:
        since = parse_timestamp(changed_since, company.utc_offset)
    except ValueError as exc:
        raise invalid_request(f"Invalid changedSince: {changed_since!r}", "changedSince") from exc
    if since < company.now() - CDC_MAX_AGE:
        raise QboFault(
            400,
            2010,
            "Request has invalid or unsupported property",
            "changedSince cannot be more than 30 days in the past",
            element="changedSince",
        )
    floor = company.timestamp(since)
    budget = CDC_MAX_OBJECTS
    responses: list[dict[str, Any]] = []
    for entity in entities:
        changed = _changed(company, entity, floor)[:budget]
        budget -= len(changed)
        if changed:
            responses.append({entity: changed, "startPosition": 1, "maxResults": len(changed)})
        else:
            responses.append({})
    return [{"QueryResponse": responses}]


def _changed(company: Company, entity: str, floor: str) -> list[dict[str, Any]]:
    """Live rows and tombstones with LastUpdatedTime >= floor, oldest first."""

    def updated(row: dict[str, Any]) -> str:
        return str(row["MetaData"]["LastUpdatedTime"])

    rows = company.view(entity, _BY_UPDATE)
    live = rows[bisect_left(rows, floor, key=updated) :]
    dead = [t for t in company.tombstones[entity].values() if updated(t) >= floor]
    if not dead:
        return list(live)
    return sorted([*live, *dead], key=lambda r: (updated(r), int(r["Id"])))
