"""Account services: each is one unit of work over a session, taking and returning primitives."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from portal.accounts import alerts, passwords, people, ratelimit, sessions, tokens, trusted
from portal.accounts.models import (
    MemberRole,
    PasswordHistory,
    PortalUser,
    Role,
    TokenPurpose,
)
from portal.billing.models import Customer
from portal.clock import clock_of
from portal.config import Settings
from portal.db import utcnow
from portal.mail import queue_email

logger = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,39}$")


class AccountError(ValueError):
    """A request about an account cannot be done; the message is safe to show."""


# The same words for an unknown account and a wrong password: nothing to enumerate.
LOGIN_FAILED = "That username or e-mail and password do not match an account."


@dataclass(frozen=True)
class AccountPolicy:
    """The account rules in force, from settings."""

    min_length: int
    history: int
    reset_lifetime: timedelta
    invite_lifetime: timedelta
    limits: ratelimit.LoginLimits
    public_url: str
    business_name: str

    @classmethod
    def from_settings(cls, settings: Settings) -> AccountPolicy:
        sec = settings.security
        return cls(
            min_length=sec.password_min_length,
            history=sec.password_history,
            reset_lifetime=timedelta(minutes=sec.reset_token_minutes),
            invite_lifetime=timedelta(hours=sec.invite_token_hours),
            limits=ratelimit.LoginLimits(
                per_account=sec.login_attempts_per_account,
                per_address=sec.login_attempts_per_address,
                window=timedelta(minutes=sec.login_window_minutes),
            ),
            public_url=settings.portal.public_url.rstrip("/"),
            business_name=settings.portal.business_name,
        )


def normalize_username(raw: str) -> str:
    """The username as typed, trimmed; AccountError unless it follows the rules."""
    value = raw.strip()
    if not USERNAME_RE.fullmatch(value):
        raise AccountError(
            "A username has 3 to 40 letters, digits, dots, dashes or underscores, "
            "and starts with a letter or digit."
        )
    return value


def normalize_email(raw: str) -> str:
    """The e-mail address in normal form; AccountError when it is not one."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise AccountError(f"That e-mail address is not valid: {exc}") from None


def _identifier_key(identifier: str) -> str:
    return identifier.strip().lower()[:254]


def find_user(s: Session, identifier: str) -> PortalUser | None:
    """The user whose username or e-mail (case-insensitive) is `identifier`."""
    key = _identifier_key(identifier)
    column = PortalUser.email_key if "@" in key else PortalUser.username_key
    return s.scalar(sa.select(PortalUser).where(column == key))


def _ensure_free(s: Session, username: str | None, email: str | None, exclude: int | None) -> None:
    def taken(column: sa.orm.InstrumentedAttribute[str], value: str) -> bool:
        q = sa.select(PortalUser.id).where(column == value.lower())
        if exclude is not None:
            q = q.where(PortalUser.id != exclude)
        return s.scalar(q) is not None

    if username is not None and taken(PortalUser.username_key, username):
        raise AccountError("That username is taken. Choose another.")
    if email is not None and taken(PortalUser.email_key, email):
        raise AccountError("An account already uses that e-mail address.")


def _set_password(s: Session, user: PortalUser, new: str, policy: AccountPolicy) -> None:
    passwords.check_policy(new, policy.min_length, [user.username, user.email.split("@")[0]])
    if user.id is not None and policy.history:
        recent = s.scalars(
            sa.select(PasswordHistory.password_hash)
            .where(PasswordHistory.user_id == user.id)
            .order_by(PasswordHistory.id.desc())
            .limit(policy.history)
        ).all()
        if any(passwords.verify_password(h, new) for h in recent):
            raise passwords.PasswordRejected(
                f"Choose a password you have not used for your last {policy.history} passwords."
            )
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = utcnow()
    s.flush()
    sessions.revoke_others(s, user.id)  # every login ends; the page that asked starts anew
    tokens.void_for_user(s, user.id)  # and every reset link sent before now
    trusted.forget_all(s, user.id)  # and every "remember this device"
    s.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    _prune_history(s, user.id, policy.history)


def _prune_history(s: Session, user_id: int, keep: int) -> None:
    keep_ids = sa.select(PasswordHistory.id).where(PasswordHistory.user_id == user_id)
    keep_ids = keep_ids.order_by(PasswordHistory.id.desc()).limit(max(keep, 1))
    s.execute(
        sa.delete(PasswordHistory).where(
            PasswordHistory.user_id == user_id,
            PasswordHistory.id.not_in(keep_ids.scalar_subquery()),
        )
    )


def create_user(
    s: Session,
    policy: AccountPolicy,
    *,
    username: str,
    email: str,
    password: str,
    role: Role = Role.CUSTOMER,
    customer_id: int | None = None,
    member_role: MemberRole | None = None,
    added_by: int | None = None,
) -> PortalUser:
    """A new portal user; AccountError or PasswordRejected when the input breaks a rule.
    A customer login joins its account: as `member_role`, or as the owner when the account
    has none yet (its first login) and with full access otherwise."""
    username = normalize_username(username)
    email = normalize_email(email)
    _ensure_free(s, username, email, exclude=None)
    if role is Role.CUSTOMER and (customer_id is None or s.get(Customer, customer_id) is None):
        raise AccountError("A customer login must belong to an existing customer.")
    user = PortalUser(
        username=username,
        username_key=username.lower(),
        email=email,
        email_key=email.lower(),
        role=role,
        customer_id=customer_id,
        password_hash="!",  # noqa: S106  (unusable until _set_password below)
    )
    s.add(user)
    _set_password(s, user, password, policy)
    if role is Role.CUSTOMER and customer_id is not None:
        s.flush()
        people.join(s, user, customer_id, member_role, added_by)
    return user


def authenticate(
    s: Session,
    policy: AccountPolicy,
    identifier: str,
    password: str,
    address: str,
    now: datetime | None = None,
) -> PortalUser | None:
    """The user for these credentials, or None (the failure is counted; commit it).

    Failures count against the account, however it was named (username or e-mail), and an
    unknown identifier against itself. Raises TooManyAttempts, before any write, while the
    account or the address must wait.
    """
    now = now or _now()
    user = find_user(s, identifier)
    key = ratelimit.user_key(user.id) if user else ratelimit.name_key(_identifier_key(identifier))
    ratelimit.check(s, policy.limits, key, address, now)
    if user is None or not user.active:
        passwords.verify_dummy(password)  # the same time taken as for a real account
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, password)
    if not ok or user is None:
        ratelimit.record_failure(s, key, address, now)
        return None
    ratelimit.clear_account(s, key)
    if passwords.hasher().check_needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    return user


def _now() -> datetime:
    """The app's clock (tests pin it) in a request or app context, else the real one."""
    return clock_of(current_app)() if has_app_context() else utcnow()


def change_username(s: Session, user: PortalUser, new_username: str) -> None:
    """Rename the login; unique regardless of case."""
    username = normalize_username(new_username)
    _ensure_free(s, username, None, exclude=user.id)
    user.username = username
    user.username_key = username.lower()


def change_password(
    s: Session, policy: AccountPolicy, user: PortalUser, current: str, new: str
) -> None:
    """Set a new password after checking the current one."""
    if not passwords.verify_password(user.password_hash, current):
        raise AccountError("Your current password is not correct.")
    _set_password(s, user, new, policy)
    alerts.password_changed(s, user)


def request_password_reset(s: Session, policy: AccountPolicy, identifier: str) -> None:
    """E-mail a reset link when the account exists; say nothing either way."""
    user = find_user(s, identifier)
    if user is None or not user.active:
        logger.info("password reset asked for an unknown or inactive account")
        return
    signed = tokens.issue(s, TokenPurpose.RESET, policy.reset_lifetime, user_id=user.id)
    queue_email(
        s,
        user.email,
        "Reset your {business} portal password",
        "email/reset_password.txt",
        user=user,
        policy=policy,
        link=f"{policy.public_url}/reset-password/{signed}",
        minutes=int(policy.reset_lifetime.total_seconds() // 60),
    )


def check_reset_token(s: Session, policy: AccountPolicy, signed: str) -> None:
    """TokenInvalid unless the reset link can still be used."""
    tokens.peek(s, TokenPurpose.RESET, signed, policy.reset_lifetime)


def reset_password(s: Session, policy: AccountPolicy, signed: str, new: str) -> PortalUser:
    """Use a reset link to set a new password; the link then stops working."""
    row = tokens.consume(s, TokenPurpose.RESET, signed, policy.reset_lifetime)
    user = s.get(PortalUser, row.user_id) if row.user_id else None
    if user is None or not user.active:
        raise tokens.TokenInvalid("This link is not valid. Ask for a new one.")
    _set_password(s, user, new, policy)
    ratelimit.clear_account(s, ratelimit.user_key(user.id))
    alerts.password_changed(s, user)
    return user


def invite_customer(
    s: Session,
    policy: AccountPolicy,
    customer_id: int,
    email: str,
    role: MemberRole | None = None,
    invited_by: int | None = None,
) -> str:
    """E-mail an invitation onto a customer account (as `role`; None: owner if the account has
    none yet, else full access); returns the link. Someone with a login already accepts it by
    logging in, and then switches between their accounts."""
    customer = s.get(Customer, customer_id)
    if customer is None:
        raise AccountError("No such customer.")
    email = normalize_email(email)
    try:
        people.check_invitable(s, customer.id, email.lower())
    except people.PeopleError as exc:
        raise AccountError(str(exc)) from None
    if role is None:
        role = MemberRole.OWNER if people.owner_of(s, customer.id) is None else MemberRole.FULL
    signed = tokens.issue(
        s,
        TokenPurpose.INVITE,
        policy.invite_lifetime,
        customer_id=customer.id,
        email=email,
        member_role=role.value,
        invited_by=invited_by,
    )
    inviter = s.get(PortalUser, invited_by) if invited_by else None
    link = f"{policy.public_url}/invite/{signed}"
    queue_email(
        s,
        email,
        "Your {business} billing portal",
        "email/invite.txt",
        customer=customer,
        policy=policy,
        link=link,
        hours=int(policy.invite_lifetime.total_seconds() // 3600),
        role=people.ROLE_NAMES[role],
        inviter=inviter.username if inviter is not None else None,
    )
    return link


@dataclass(frozen=True)
class Invitation:
    """What an invitation link offers: the address, the account and the role."""

    email: str
    customer_name: str
    role: MemberRole
    existing_login: bool


def check_invite(s: Session, policy: AccountPolicy, signed: str) -> Invitation:
    """What the invitation offers; TokenInvalid when the link cannot be used."""
    row = tokens.peek(s, TokenPurpose.INVITE, signed, policy.invite_lifetime)
    customer = s.get(Customer, row.customer_id) if row.customer_id else None
    if customer is None or not row.email:
        raise tokens.TokenInvalid("This link is not valid.")
    existing = s.scalar(sa.select(PortalUser.id).where(PortalUser.email_key == row.email.lower()))
    return Invitation(
        row.email,
        customer.display_name,
        people.invited_role(s, customer.id, row.member_role),
        existing is not None,
    )


def accept_invite(
    s: Session, policy: AccountPolicy, signed: str, username: str, password: str
) -> PortalUser:
    """Create the invited person's login on the account; the link then stops working."""
    row = tokens.consume(s, TokenPurpose.INVITE, signed, policy.invite_lifetime)
    if row.customer_id is None or row.email is None:
        raise tokens.TokenInvalid("This link is not valid.")
    role = people.invited_role(s, row.customer_id, row.member_role)
    return create_user(
        s,
        policy,
        username=username,
        email=row.email,
        password=password,
        role=Role.CUSTOMER,
        customer_id=row.customer_id,
        member_role=role,
        added_by=row.invited_by,
    )


def accept_invite_as(s: Session, policy: AccountPolicy, signed: str, user: PortalUser) -> int:
    """Put a logged-in customer on the account they were invited to (the invitation was for
    their e-mail address); returns the account's customer id."""
    row = tokens.peek(s, TokenPurpose.INVITE, signed, policy.invite_lifetime)
    if row.customer_id is None or row.email is None:
        raise tokens.TokenInvalid("This link is not valid.")
    if user.role is not Role.CUSTOMER or row.email.lower() != user.email_key:
        raise AccountError(
            f"This invitation is for {row.email}. Log in with that address's login to accept it."
        )
    if people.role_on(s, user.id, row.customer_id) is not None:
        raise AccountError("You are already on this account.")
    tokens.consume(s, TokenPurpose.INVITE, signed, policy.invite_lifetime)
    role = people.invited_role(s, row.customer_id, row.member_role)
    people.join(s, user, row.customer_id, role, row.invited_by)
    return row.customer_id
