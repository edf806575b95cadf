"""An approximate place for a client address, as the Security page shows it ("Toronto,
Canada"): from a GeoIP2/GeoLite2 (or DB-IP lite) .mmdb file when `security.geoip_database`
names one, else only what the address itself says (this computer, a local network)."""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache
from typing import Any

import maxminddb
from flask import current_app, has_app_context

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _reader(path: str) -> Any:
    try:
        return maxminddb.open_database(path)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError):
        logger.warning("the GeoIP file %s cannot be read; places are not shown", path)
        return None


def _name(record: dict[str, Any], key: str) -> str:
    names = (record.get(key) or {}).get("names") or {}
    name = names.get("en") or next(iter(names.values()), "")
    return name if isinstance(name, str) else ""


def place_of(address: str, database: str = "") -> str:
    """Where `address` roughly is, in words; empty when nothing is known."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if ip.is_loopback:
        return "This computer"
    if ip.is_private or ip.is_link_local:
        return "Local network"
    reader = _reader(database) if database else None
    if reader is None:
        return ""
    try:
        record = reader.get(str(ip))
    except ValueError:
        return ""
    if not isinstance(record, dict):
        return ""
    return ", ".join(p for p in (_name(record, "city"), _name(record, "country")) if p)


def place(address: str) -> str:
    """Jinja filter: place_of with the configured GeoIP file."""
    database = ""
    if has_app_context():
        database = current_app.config["PORTAL_SETTINGS"].security.geoip_database
    return place_of(address, database)
