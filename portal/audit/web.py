"""The actor of the request being served."""

from __future__ import annotations

from flask import has_request_context, request
from flask_login import current_user

from portal.audit.service import SYSTEM, Actor, Person, as_person


def actor(person: Person | None = None) -> Actor:
    """Who makes this request and from where: `person` when given (a sign-in, a link from an
    e-mail), else the logged-in user, else anonymous; the system outside a request."""
    if not has_request_context():
        return SYSTEM if person is None else as_person(person)
    address = request.remote_addr or ""
    agent = request.user_agent.string
    if person is not None:
        return as_person(person, address, agent)
    if current_user and current_user.is_authenticated:
        return as_person(current_user, address, agent)
    return Actor(None, "anonymous", address, agent)
