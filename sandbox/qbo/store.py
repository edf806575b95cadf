"""The in-memory company: rows by entity and Id, tombstones, stamping, sorted views."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .faults import not_found
from .ledger import Ledger, Target
from .util import DEFAULT_UTC_OFFSET, format_date, format_timestamp

logger = logging.getLogger(__name__)

ENTITIES = ("Account", "PaymentMethod", "Item", "Customer", "Invoice", "CreditMemo", "Payment")
NAME_FIELDS = {
    "Customer": "DisplayName",
    "Item": "Name",
    "Account": "Name",
    "PaymentMethod": "Name",
}
URL_NAMES = {entity.lower(): entity for entity in ENTITIES}
MONEY_KEYS = frozenset(
    {"Amount", "UnitPrice", "Qty", "TotalAmt", "Balance", "BalanceWithJobs", "UnappliedAmt"}
    | {"RemainingCredit", "CurrentBalance", "HomeBalance", "HomeTotalAmt"}
)

OrderSpec = tuple[tuple[tuple[str, ...], bool], ...]

# Known field spellings, learned lazily, so lookups by lower-cased path stay O(1).
_CANONICAL: dict[str, str] = {}


def get_path(row: dict[str, Any], path: tuple[str, ...]) -> Any:
    """Resolve a lower-cased dotted path (e.g. ('metadata', 'lastupdatedtime')) in a row."""
    current: Any = row
    for part in path:
        if not isinstance(current, dict):
            return None
        key = _CANONICAL.get(part)
        if key is None or key not in current:
            key = next((k for k in current if k.lower() == part), None)
            if key is None:
                return None
            _CANONICAL[part] = key
        current = current[key]
    return current


def sort_value(value: Any) -> tuple[int, Any]:
    """A key that orders numbers, numeric strings and strings without TypeErrors."""
    if isinstance(value, dict):
        value = value.get("value")
    if value is None:
        return (2, "")
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | Decimal):
        return (0, value)
    text = str(value)
    if text.isdigit():
        return (0, int(text))
    return (1, text)


def _sort_key(path: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """A sort key function for one field path."""
    return lambda row: sort_value(get_path(row, path))


class Company:
    """One QBO company (realm): entity rows, deleted-row tombstones, counters and indexes."""

    def __init__(
        self,
        realm_id: str,
        name: str,
        clock: Callable[[], datetime],
        utc_offset: timedelta = DEFAULT_UTC_OFFSET,
    ) -> None:
        self.realm_id = realm_id
        self.name = name
        self.utc_offset = utc_offset
        self._clock = clock
        self.rows: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in ENTITIES}
        self.tombstones: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in ENTITIES}
        self.next_ids: dict[str, int] = dict.fromkeys(ENTITIES, 1)
        self.doc_numbers: dict[str, int] = {"Invoice": 1001, "CreditMemo": 5001}
        self.versions: dict[str, int] = dict.fromkeys(ENTITIES, 0)
        self.names: dict[str, dict[str, str]] = {e: {} for e in NAME_FIELDS}
        self.voided: set[Target] = set()
        self.ledger = Ledger()
        self.events: list[dict[str, str]] = []
        self.stamp_time: datetime | None = None
        # (entity, Id) written since the last journal record; None: nobody keeps a journal
        self.changes: set[tuple[str, str]] | None = None
        self._views: dict[tuple[str, OrderSpec], tuple[int, list[dict[str, Any]]]] = {}

    def now(self) -> datetime:
        """The moment writes are stamped with (the seeder may pin it)."""
        return self.stamp_time or self._clock()

    def timestamp(self, moment: datetime | None = None) -> str:
        """Format a moment (default: now) in the company's UTC offset."""
        return format_timestamp(moment or self.now(), self.utc_offset)

    def today(self) -> str:
        """The company-local date today."""
        return format_date(self.now(), self.utc_offset)

    def new_id(self, entity: str) -> str:
        """Allocate the next Id for an entity."""
        value = self.next_ids[entity]
        self.next_ids[entity] = value + 1
        return str(value)

    def next_doc_number(self, entity: str) -> str:
        """Allocate the next automatic DocNumber."""
        value = self.doc_numbers[entity]
        self.doc_numbers[entity] = value + 1
        return str(value)

    def get(self, entity: str, object_id: str) -> dict[str, Any] | None:
        """Return the live row, or None."""
        return self.rows[entity].get(str(object_id))

    def require(self, entity: str, object_id: Any) -> dict[str, Any]:
        """Return the live row or raise the 610 fault."""
        row = self.get(entity, str(object_id))
        if row is None:
            raise not_found(entity, str(object_id))
        return row

    def find_name(self, entity: str, name: str) -> str | None:
        """Return the Id holding a name-list name (case-insensitive), if any."""
        return self.names[entity].get(name.strip().lower())

    def stamp(self, entity: str, obj: dict[str, Any], operation: str) -> None:
        """Store a row, bump its SyncToken and LastUpdatedTime, and record the event."""
        now = self.timestamp()
        meta = obj.setdefault("MetaData", {})
        if operation == "Create":
            obj["SyncToken"] = "0"
            meta["CreateTime"] = now
        else:
            obj["SyncToken"] = str(int(obj.get("SyncToken") or 0) + 1)
        meta["LastUpdatedTime"] = now
        obj["domain"] = "QBO"
        obj["sparse"] = False
        self.put(entity, obj)
        self.events.append(
            {"name": entity, "id": obj["Id"], "operation": operation, "lastUpdated": now}
        )

    def put(self, entity: str, obj: dict[str, Any]) -> None:
        """Store a row as-is and keep the name index in step."""
        previous = self.rows[entity].get(obj["Id"])
        field = NAME_FIELDS.get(entity)
        if field:
            if previous is not None:
                self.names[entity].pop(str(previous.get(field, "")).lower(), None)
            self.names[entity][str(obj.get(field, "")).lower()] = obj["Id"]
        self.rows[entity][obj["Id"]] = obj
        self.versions[entity] += 1
        if self.changes is not None:
            self.changes.add((entity, obj["Id"]))

    def delete(self, entity: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Remove a row, keep a tombstone for CDC and return the delete response body."""
        now = self.timestamp()
        del self.rows[entity][obj["Id"]]
        self.versions[entity] += 1
        tombstone = {
            "domain": "QBO",
            "status": "Deleted",
            "Id": obj["Id"],
            "MetaData": {"CreateTime": obj["MetaData"]["CreateTime"], "LastUpdatedTime": now},
        }
        self.tombstones[entity][obj["Id"]] = tombstone
        if self.changes is not None:
            self.changes.add((entity, obj["Id"]))
        self.events.append({"name": entity, "id": obj["Id"], "operation": "Delete"})
        self.events[-1]["lastUpdated"] = now
        return {"domain": "QBO", "status": "Deleted", "Id": obj["Id"]}

    def view(self, entity: str, order: OrderSpec) -> list[dict[str, Any]]:
        """Rows sorted by `order` then Id; cached until the entity changes."""
        key = (entity, order)
        cached = self._views.get(key)
        version = self.versions[entity]
        if cached is not None and cached[0] == version:
            return cached[1]
        # Ids are allocated in increasing order and dicts keep insertion order: already sorted
        rows = list(self.rows[entity].values())
        for path, descending in reversed(order):
            rows.sort(key=_sort_key(path), reverse=descending)
        # keep every ordering that is still current; drop the stale ones
        self._views = {k: v for k, v in self._views.items() if v[0] == self.versions[k[0]]}
        self._views[key] = (version, rows)
        return rows

    def drain_events(self) -> list[dict[str, str]]:
        """Take the change events recorded since the last drain."""
        events, self.events = self.events, []
        return events

    def company_info(self) -> dict[str, Any]:
        """A minimal CompanyInfo object."""
        return {
            "Id": "1",
            "SyncToken": "0",
            "CompanyName": self.name,
            "LegalName": self.name,
            "Country": "US",
            "SupportedLanguages": "en",
            "domain": "QBO",
            "sparse": False,
        }

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the state file."""
        return {**self._header(), "rows": self.rows, "tombstones": self.tombstones}

    def _header(self) -> dict[str, Any]:
        """Everything but the rows: identity, counters and voided transactions."""
        return {
            "realm_id": self.realm_id,
            "name": self.name,
            "utc_offset_seconds": int(self.utc_offset.total_seconds()),
            "next_ids": self.next_ids,
            "doc_numbers": self.doc_numbers,
            "voided": sorted(list(target) for target in self.voided),
        }

    def take_changes(self) -> dict[str, Any] | None:
        """The rows written since the last call, as a journal record (None: nothing new)."""
        if not self.changes:
            return None
        rows: dict[str, dict[str, Any]] = {}
        deleted: dict[str, dict[str, Any]] = {}
        for entity, object_id in self.changes:
            row = self.rows[entity].get(object_id)
            if row is not None:
                rows.setdefault(entity, {})[object_id] = row
            else:
                deleted.setdefault(entity, {})[object_id] = self.tombstones[entity][object_id]
        self.changes = set()
        return {**self._header(), "rows": rows, "tombstones": deleted}

    def apply_changes(self, record: dict[str, Any]) -> None:
        """Replay a record of take_changes(); call ledger.rebuild() after the last one."""
        for entity, rows in record["rows"].items():
            for obj in rows.values():
                self.put(entity, _decimalize(obj))
        for entity, tombstones in record["tombstones"].items():
            for object_id, tombstone in tombstones.items():
                if self.rows[entity].pop(object_id, None) is not None:
                    self.versions[entity] += 1
                self.tombstones[entity][object_id] = tombstone
        self.next_ids.update(record["next_ids"])
        self.doc_numbers.update(record["doc_numbers"])
        self.voided = {(entity, object_id) for entity, object_id in record["voided"]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], clock: Callable[[], datetime]) -> Company:
        """Restore from the state file and rebuild the indexes."""
        company = cls(
            data["realm_id"], data["name"], clock, timedelta(seconds=data["utc_offset_seconds"])
        )
        company.apply_changes(data)
        company.ledger.rebuild(company.rows)
        return company


def _decimalize(value: Any, key: str = "") -> Any:
    """Turn integer money fields read back from JSON into Decimals."""
    if isinstance(value, dict):
        return {k: _decimalize(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimalize(v, key) for v in value]
    if key in MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value
