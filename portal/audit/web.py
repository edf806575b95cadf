"""The actor of the request being served."""

from __future__ import annotations

from flask import has_request_context, request
from flask_login import current_user

from portal.audit.service import SYSTEM, Actor


def actor() -> Actor:
    """The logged-in user making this request (or the system outside one)."""
    if not has_request_context():
        return SYSTEM
    address = request.remote_addr or ""
    agent = request.user_agent.string
    if current_user and current_user.is_authenticated:
        label = f"{current_user.username} ({current_user.role})"
        return Actor(current_user.id, label, address, agent)
    return Actor(None, "anonymous", address, agent)
