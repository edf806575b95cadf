"""People on a customer account: who is on it with which role, invitations, role changes,
removal and ownership. Each change is a compare-and-set in the caller's unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts import sessions
from portal.accounts.models import (
    AccountMember,
    AccountToken,
    MemberRole,
    PortalUser,
    Role,
    TokenPurpose,
)
from portal.audit.actions import Action
from portal.audit.service import Actor, record
from portal.billing.models import Customer
from portal.db import utcnow

# What an owner may hand out (ownership itself moves only by a transfer).
INVITABLE = (MemberRole.FULL, MemberRole.PAY, MemberRole.VIEW)
ROLE_NAMES = {
    MemberRole.OWNER: "Owner",
    MemberRole.FULL: "Full access",
    MemberRole.PAY: "Can pay",
    MemberRole.VIEW: "View only",
}


class PeopleError(ValueError):
    """A change to the people on an account that cannot be made; the message says why."""


class NotOnAccount(PeopleError):
    """The person named is not on this account (to the web: a 404, like any other's id)."""


@dataclass(frozen=True)
class Membership:
    """One account a person is on, as the account switcher shows it."""

    customer_id: int
    role: MemberRole
    name: str


@dataclass(frozen=True)
class Person:
    """Someone on an account, as the people page shows them."""

    user_id: int
    username: str
    email: str
    role: MemberRole
    since: datetime


@dataclass(frozen=True)
class PendingInvite:
    """An invitation not yet accepted."""

    id: int
    email: str
    role: MemberRole
    expires_at: datetime


def parse_role(raw: str | None, allowed: tuple[MemberRole, ...] = INVITABLE) -> MemberRole:
    """A role from a form; PeopleError for anything else."""
    for role in allowed:
        if raw == role.value:
            return role
    raise PeopleError("Choose " + ", ".join(ROLE_NAMES[r].lower() for r in allowed) + ".")


def memberships(s: Session, user_id: int) -> list[Membership]:
    """Every account a person is on, by name (one query)."""
    rows = s.execute(
        sa.select(AccountMember.customer_id, AccountMember.role, Customer.display_name)
        .join(Customer, Customer.id == AccountMember.customer_id)
        .where(AccountMember.user_id == user_id)
        .order_by(Customer.display_name, Customer.id)
    ).all()
    return [Membership(c, r, n) for c, r, n in rows]


def role_on(s: Session, user_id: int, customer_id: int) -> MemberRole | None:
    """A person's role on an account, or None when they are not on it."""
    return s.scalar(
        sa.select(AccountMember.role).where(
            AccountMember.user_id == user_id, AccountMember.customer_id == customer_id
        )
    )


def owner_of(s: Session, customer_id: int) -> int | None:
    """The user id of an account's owner."""
    return s.scalar(
        sa.select(AccountMember.user_id).where(
            AccountMember.customer_id == customer_id, AccountMember.role == MemberRole.OWNER
        )
    )


def join(
    s: Session,
    user: PortalUser,
    customer_id: int,
    role: MemberRole | None = None,
    added_by: int | None = None,
) -> AccountMember:
    """Put `user` on an account: as `role`, or as owner when the account has none yet (its
    first login) and with full access otherwise. A second join of the same pair is refused
    by the database's unique key."""
    if role is None:
        role = MemberRole.OWNER if owner_of(s, customer_id) is None else MemberRole.FULL
    member = AccountMember(user_id=user.id, customer_id=customer_id, role=role, added_by=added_by)
    s.add(member)
    s.flush()
    return member


def invited_role(s: Session, customer_id: int, raw: str | None) -> MemberRole:
    """The role an invitation gives: as stored (full when none), but never a second owner
    (the account may have found one since it was sent)."""
    try:
        role = MemberRole(raw) if raw else MemberRole.FULL
    except ValueError:
        role = MemberRole.VIEW
    if role is MemberRole.OWNER and owner_of(s, customer_id) is not None:
        return MemberRole.FULL
    return role


def joined(s: Session, user: PortalUser, customer_id: int, by: Actor) -> None:
    """Record that `user` accepted an invitation onto the account."""
    record(
        s,
        Action.PEOPLE_JOINED,
        customer_id=customer_id,
        actor=by,
        summary=f"{user.username} accepted the invitation",
    )


def people(s: Session, customer_id: int) -> list[Person]:
    """Everyone on an account, the owner first."""
    rows = s.execute(
        sa.select(
            PortalUser.id,
            PortalUser.username,
            PortalUser.email,
            AccountMember.role,
            AccountMember.created_at,
        )
        .join(PortalUser, PortalUser.id == AccountMember.user_id)
        .where(AccountMember.customer_id == customer_id)
        .order_by(AccountMember.created_at, AccountMember.id)
    ).all()
    found = [Person(*row) for row in rows]
    return sorted(found, key=lambda p: p.role is not MemberRole.OWNER)


def pending_invites(s: Session, customer_id: int, lifetime: timedelta) -> list[PendingInvite]:
    """Invitations to an account not used, not cancelled and not expired."""
    now = utcnow()
    rows = s.execute(
        sa.select(
            AccountToken.id, AccountToken.email, AccountToken.member_role, AccountToken.expires_at
        )
        .where(
            AccountToken.customer_id == customer_id,
            AccountToken.purpose == TokenPurpose.INVITE,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .order_by(AccountToken.id)
    ).all()
    return [
        PendingInvite(i, e or "", MemberRole(r) if r else MemberRole.FULL, x) for i, e, r, x in rows
    ]


def cancel_invite(s: Session, customer_id: int, invite_id: int, by: Actor) -> bool:
    """Cancel an unused invitation to this account (used up, so its link stops working)."""
    done = _count(
        s.execute(
            sa.update(AccountToken)
            .where(
                AccountToken.id == invite_id,
                AccountToken.customer_id == customer_id,
                AccountToken.purpose == TokenPurpose.INVITE,
                AccountToken.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )
    )
    if done:
        record(
            s,
            Action.PEOPLE_INVITE_CANCELLED,
            customer_id=customer_id,
            actor=by,
            summary=f"Cancelled invitation {invite_id}",
        )
    return bool(done)


def check_invitable(s: Session, customer_id: int, email_key: str) -> None:
    """PeopleError when this address cannot be invited to the account: staff, or already on it."""
    existing = s.scalar(sa.select(PortalUser).where(PortalUser.email_key == email_key))
    if existing is None:
        return
    if existing.role is not Role.CUSTOMER:
        raise PeopleError("That address belongs to a staff login; use another one.")
    if role_on(s, existing.id, customer_id) is not None:
        raise PeopleError("That person is already on this account.")


def change_role(
    s: Session, customer_id: int, user_id: int, role: MemberRole, by: Actor
) -> MemberRole:
    """Give someone on the account another role (never the owner's: that is a transfer)."""
    if role is MemberRole.OWNER:
        raise PeopleError("Ownership moves only by a transfer.")
    member = _member(s, customer_id, user_id)
    if member.role is MemberRole.OWNER:
        raise PeopleError("The owner's access cannot be changed; transfer ownership first.")
    before = member.role
    if before is role:
        return role
    changed = _count(
        s.execute(
            sa.update(AccountMember)
            .where(AccountMember.id == member.id, AccountMember.role == before)
            .values(role=role, updated_at=utcnow())
        )
    )
    if not changed:
        raise PeopleError("Someone else changed this person's access meanwhile; look again.")
    s.expire(member)
    record(
        s,
        Action.PEOPLE_ROLE_CHANGED,
        customer_id=customer_id,
        actor=by,
        summary=f"{_username(s, user_id)}: {ROLE_NAMES[before]} → {ROLE_NAMES[role]}",
        before={"role": before.value},
        after={"role": role.value},
    )
    return role


def remove(s: Session, customer_id: int, user_id: int, by: Actor) -> None:
    """Take someone off the account and end every session of theirs at once; their login
    stays (other accounts may be theirs) but reaches this account no more."""
    member = _member(s, customer_id, user_id)
    if member.role is MemberRole.OWNER:
        raise PeopleError("The owner cannot be removed; transfer ownership first.")
    gone = _count(
        s.execute(
            sa.delete(AccountMember).where(
                AccountMember.id == member.id, AccountMember.role != MemberRole.OWNER
            )
        )
    )
    if not gone:
        raise PeopleError("Someone else changed this person's access meanwhile; look again.")
    sessions.revoke_others(s, user_id)
    person = s.get(PortalUser, user_id)
    if person is not None and person.customer_id == customer_id:
        # the login's home moves to another account it is on, if any
        other = s.scalar(
            sa.select(AccountMember.customer_id)
            .where(AccountMember.user_id == user_id)
            .order_by(AccountMember.id)
            .limit(1)
        )
        if other is not None:
            person.customer_id = other
    record(
        s,
        Action.PEOPLE_REMOVED,
        customer_id=customer_id,
        actor=by,
        summary=f"Removed {_username(s, user_id)}",
        before={"role": member.role.value},
    )


def transfer_ownership(s: Session, customer_id: int, user_id: int, by: Actor) -> None:
    """Make someone already on the account its owner; the old owner keeps full access."""
    member = _member(s, customer_id, user_id)
    if member.role is MemberRole.OWNER:
        return
    old = owner_of(s, customer_id)
    # demote first: the database allows one owner per account at any moment
    if old is not None:
        s.execute(
            sa.update(AccountMember)
            .where(
                AccountMember.customer_id == customer_id,
                AccountMember.user_id == old,
                AccountMember.role == MemberRole.OWNER,
            )
            .values(role=MemberRole.FULL, updated_at=utcnow())
        )
    promoted = _count(
        s.execute(
            sa.update(AccountMember)
            .where(AccountMember.id == member.id, AccountMember.role == member.role)
            .values(role=MemberRole.OWNER, updated_at=utcnow())
        )
    )
    if not promoted:
        raise PeopleError("Someone else changed this person's access meanwhile; look again.")
    s.expire_all()
    record(
        s,
        Action.PEOPLE_OWNER_CHANGED,
        customer_id=customer_id,
        actor=by,
        summary=f"Ownership moved to {_username(s, user_id)}",
        before={"owner": _username(s, old) if old else None},
        after={"owner": _username(s, user_id)},
    )


def _count(result: object) -> int:
    """How many rows an UPDATE or DELETE changed."""
    return int(getattr(result, "rowcount", 0))


def _member(s: Session, customer_id: int, user_id: int) -> AccountMember:
    member = s.scalar(
        sa.select(AccountMember).where(
            AccountMember.customer_id == customer_id, AccountMember.user_id == user_id
        )
    )
    if member is None:
        raise NotOnAccount("That person is not on this account.")
    return member


def _username(s: Session, user_id: int | None) -> str:
    person = s.get(PortalUser, user_id) if user_id else None
    return person.username if person is not None else "someone"
