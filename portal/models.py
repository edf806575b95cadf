"""Every mapped model, imported once so metadata (and Alembic) sees all tables."""

from portal.accounts.models import AccountToken, LoginFailure, PasswordHistory, PortalUser
from portal.billing.models import Customer, Invoice, InvoiceLine
from portal.db import Base
from portal.mail.models import OutboundEmail

__all__ = [
    "AccountToken",
    "Base",
    "Customer",
    "Invoice",
    "InvoiceLine",
    "LoginFailure",
    "OutboundEmail",
    "PasswordHistory",
    "PortalUser",
]
