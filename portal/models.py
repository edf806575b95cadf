"""Every mapped model, imported once so metadata (and Alembic) sees all tables."""

from portal.accounts.models import AccountToken, LoginFailure, PasswordHistory, PortalUser
from portal.billing.models import (
    CatalogItem,
    CreditMemo,
    Customer,
    Invoice,
    InvoiceLine,
    PaymentApplication,
    ReceivedPayment,
)
from portal.db import Base
from portal.mail.models import OutboundEmail
from sync.models import Lease, QboConnection, SyncRun, SyncState

__all__ = [
    "AccountToken",
    "Base",
    "CatalogItem",
    "CreditMemo",
    "Customer",
    "Invoice",
    "InvoiceLine",
    "Lease",
    "LoginFailure",
    "OutboundEmail",
    "PasswordHistory",
    "PaymentApplication",
    "PortalUser",
    "QboConnection",
    "ReceivedPayment",
    "SyncRun",
    "SyncState",
]
