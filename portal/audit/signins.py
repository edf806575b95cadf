"""Sign-in events, which need a little lookup before they can be recorded."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.models import PortalUser
from portal.audit.actions import Action
from portal.audit.service import Actor, record

# What was refused, in words; never what was typed.
REFUSED = {
    "password": "wrong password",
    "app": "wrong authenticator app code",
    "recovery": "wrong recovery code",
    "email": "wrong e-mailed code",
    "passkey": "passkey refused",
}


def login_failed(
    s: Session,
    actor: Actor,
    *,
    identifier: str | None = None,
    person: PortalUser | None = None,
    how: str = "password",
) -> None:
    """A refused sign-in, on the account of the login it named (found by `identifier` when
    `person` is not known yet). The typed name of an unknown login is not kept: people type
    their password into it."""
    if person is None and identifier:
        key = identifier.strip().lower()[:254]
        column = PortalUser.email_key if "@" in key else PortalUser.username_key
        person = s.scalar(sa.select(PortalUser).where(column == key))
    why = REFUSED.get(how, how)
    if person is not None:
        summary = f"Sign-in as {person.username} refused: {why}"
    else:
        summary = f"Sign-in refused: {'no such login' if how == 'password' else why}"
    record(
        s,
        Action.LOGIN_FAILED,
        customer_id=person.customer_id if person else None,
        actor=actor,
        summary=summary,
    )


def logged_in(s: Session, actor: Actor, person: PortalUser) -> None:
    """A sign-in that showed every factor it needed."""
    record(
        s,
        Action.LOGIN,
        customer_id=person.customer_id,
        actor=actor,
        summary=f"{person.username} signed in",
    )
