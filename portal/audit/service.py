"""Recording audit events in the caller's unit of work (they commit with the change)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from portal.audit.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who made a change and from where (blank address outside a request)."""

    user_id: int | None
    label: str
    address: str = ""
    user_agent: str = ""


SYSTEM = Actor(None, "system")
COMMAND_LINE = Actor(None, "command line")


class Person(Protocol):
    """What naming a login as an actor needs (a PortalUser)."""

    id: int
    username: str
    role: Any


def as_person(person: Person, address: str = "", user_agent: str = "") -> Actor:
    """`person` as the actor (a login making a change, or a payment made in their name)."""
    role = getattr(person.role, "value", person.role)
    return Actor(person.id, f"{person.username} ({role})", address or "", user_agent or "")


def record(
    s: Session,
    action: str,
    *,
    customer_id: int | None,
    actor: Actor | None,
    summary: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the log in the caller's transaction."""
    who = actor or SYSTEM
    event = AuditEvent(
        customer_id=customer_id,
        actor_user_id=who.user_id,
        actor_label=who.label[:120],
        action=action[:40],
        summary=summary[:500],
        before=None if before is None else json.dumps(before, sort_keys=True, default=str),
        after=None if after is None else json.dumps(after, sort_keys=True, default=str),
        address=who.address[:64],
        user_agent=who.user_agent[:200],
    )
    s.add(event)
    return event
