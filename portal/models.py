"""Every mapped model, imported once so metadata (and Alembic) sees all tables."""

from portal.accounts.claim_models import ClaimAttempt
from portal.accounts.models import (
    AccountMember,
    AccountToken,
    LoginFailure,
    LoginSession,
    PasswordHistory,
    PortalUser,
    UserPreference,
)
from portal.audit.models import AuditEvent
from portal.autopay.models import (
    AutopayEnrollment,
    AutopaySkip,
    ChargeRun,
    PaymentPlan,
    PlanInstallment,
    PlanInvoice,
    PlanLimits,
    ScheduledLine,
    ScheduledPayment,
)
from portal.billing.models import (
    CatalogItem,
    CreditMemo,
    Customer,
    Invoice,
    InvoiceLine,
    PaymentApplication,
    ReceivedPayment,
)
from portal.billing.notices import Notice
from portal.branding import BrandSetting
from portal.db import Base
from portal.details.models import CustomerChange
from portal.mail.models import OutboundEmail
from portal.notifications.models import (
    Delivery,
    Notification,
    NotificationPreference,
    NotificationSetting,
    SmsContact,
    StatementPreference,
)
from portal.outbox import OutboxEffect, OutboxMessage
from portal.overdue.models import CustomerOverdue, LateFee, LateFeePolicyRow
from portal.payments.models import Payment, PaymentAllocation, SavedMethod
from sync.models import Lease, QboConnection, SyncRun, SyncState, WebhookReceipt

__all__ = [
    "AccountMember",
    "AccountToken",
    "AuditEvent",
    "AutopayEnrollment",
    "AutopaySkip",
    "Base",
    "BrandSetting",
    "CatalogItem",
    "ChargeRun",
    "ClaimAttempt",
    "CreditMemo",
    "Customer",
    "CustomerChange",
    "CustomerOverdue",
    "Delivery",
    "Invoice",
    "InvoiceLine",
    "LateFee",
    "LateFeePolicyRow",
    "Lease",
    "LoginFailure",
    "LoginSession",
    "Notice",
    "Notification",
    "NotificationPreference",
    "NotificationSetting",
    "OutboundEmail",
    "OutboxEffect",
    "OutboxMessage",
    "PasswordHistory",
    "Payment",
    "PaymentAllocation",
    "PaymentApplication",
    "PaymentPlan",
    "PlanInstallment",
    "PlanInvoice",
    "PlanLimits",
    "PortalUser",
    "QboConnection",
    "ReceivedPayment",
    "SavedMethod",
    "ScheduledLine",
    "ScheduledPayment",
    "SmsContact",
    "StatementPreference",
    "SyncRun",
    "SyncState",
    "UserPreference",
    "WebhookReceipt",
]
