"""Scheduled payment work: settle attempts whose outcome is unknown."""

from __future__ import annotations

from flask import Flask

from portal.payments import service
from portal.payments.gateway import PaymentGateway


def gateway_of(app: Flask) -> PaymentGateway:
    """The app's card processor."""
    gateway: PaymentGateway = app.extensions["portal.gateway"]
    return gateway


def recover_payments(app: Flask) -> int:
    """Ask the processor about UNKNOWN (and stuck PENDING) payments."""
    if "portal.gateway" not in app.extensions:
        return 0
    return service.recover(app.extensions["portal.db"].sessions, gateway_of(app))
