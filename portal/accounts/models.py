"""Portal users and what protects their accounts: password history, login failures, tokens."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.billing.models import Customer
from portal.db import Base, str_enum, utcnow


class Role(enum.StrEnum):
    """What a portal user may do."""

    CUSTOMER = "customer"
    BOOKKEEPER = "bookkeeper"
    ADMIN = "admin"


def new_session_token() -> str:
    """A filler for the retired PortalUser.session_token column (login_session replaced it)."""
    return secrets.token_urlsafe(24)


class PortalUser(Base):
    """Someone who logs in: a customer's contact, a bookkeeper or an admin."""

    __tablename__ = "portal_user"
    __table_args__ = (
        sa.CheckConstraint(
            "role <> 'customer' OR customer_id IS NOT NULL", name="customer_has_customer"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(40))
    # Lower-cased copies carry the unique indexes: case-insensitive on SQLite and PostgreSQL alike.
    username_key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    email_key: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(
        str_enum(Role, "portal_role", 20),
        default=Role.CUSTOMER,
    )
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="RESTRICT"), index=True
    )
    # Unused since login_session (0012); kept only until a migration drops the column.
    session_token: Mapped[str] = mapped_column(
        sa.String(64), unique=True, default=new_session_token
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Whether a second factor (a confirmed authenticator app or a passkey) is set up; kept by
    # accounts.factors so the per-request "must enrol" check reads no other table.
    two_factor: Mapped[bool] = mapped_column(default=False)

    customer: Mapped[Customer | None] = relationship()

    # Flask-Login protocol. Whether the login still holds is the login_session's say (auth.py).
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class MemberRole(enum.StrEnum):
    """What a person may do on one customer account (see portal.auth.Access)."""

    OWNER = "owner"  # everything, and the people on the account; one per account
    FULL = "full"  # everything the owner can, except managing people
    PAY = "pay"  # see invoices, pay, keep their own saved methods
    VIEW = "view"  # see only


class AccountMember(Base):
    """A person's place on a customer account: a login may be on several accounts (a
    bookkeeper paying for three businesses) and an account may have several people."""

    __tablename__ = "account_member"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "customer_id", name="uq_account_member_user_customer"),
        # One owner per account, enforced by the database (a race of two transfers loses).
        sa.Index(
            "uq_account_member_owner",
            "customer_id",
            unique=True,
            sqlite_where=sa.text("role = 'owner'"),
            postgresql_where=sa.text("role = 'owner'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[MemberRole] = mapped_column(str_enum(MemberRole, "member_role", 10))
    added_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PasswordHistory(Base):
    """Hashes of a user's previous passwords, to refuse reuse."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="CASCADE"), index=True
    )
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """One failed login, counted per account key and per client address within a window."""

    __tablename__ = "login_failure"
    __table_args__ = (
        sa.Index("ix_login_failure_account", "account_key", "created_at"),
        sa.Index("ix_login_failure_address", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_key: Mapped[str] = mapped_column(sa.String(254))
    address: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TokenPurpose(enum.StrEnum):
    """What an e-mailed account token is for."""

    RESET = "reset"
    INVITE = "invite"
    EMAIL_CHANGE = "email"
    CLAIM = "claim"  # a customer's own first login, proven by an invoice (accounts.claim)


class AccountToken(Base):
    """A single-use e-mailed token; only its SHA-256 is stored."""

    __tablename__ = "account_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    purpose: Mapped[TokenPurpose] = mapped_column(str_enum(TokenPurpose, "token_purpose", 10))
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE")
    )
    email: Mapped[str | None] = mapped_column(sa.String(254))
    # An invitation's role on the account, and who sent it (None: staff's first login).
    member_role: Mapped[str | None] = mapped_column(sa.String(10))
    invited_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class UserPreference(Base):
    """How one login wants the portal to look: theme, text size and dashboard widgets.
    Widget names are comma-separated; unknown names are dropped when read."""

    __tablename__ = "user_preference"
    __table_args__ = (
        sa.CheckConstraint("theme IN ('auto', 'light', 'dark', 'contrast')", name="theme_known"),
        sa.CheckConstraint("text_size IN ('normal', 'large', 'larger')", name="text_size_known"),
    )

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="CASCADE"), primary_key=True
    )
    theme: Mapped[str] = mapped_column(sa.String(10), default="auto")
    text_size: Mapped[str] = mapped_column(sa.String(10), default="normal")
    widget_order: Mapped[str] = mapped_column(sa.String(200), default="")
    hidden_widgets: Mapped[str] = mapped_column(sa.String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LoginSession(Base):
    """One login on one device, revocable from the server; only its id's SHA-256 is stored."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str] = mapped_column(sa.String(200), default="")
    address: Mapped[str] = mapped_column(sa.String(64), default="")
    revoked_at: Mapped[datetime | None]
    # When this session last proved who it is (password, second factor or passkey): changes to
    # the login's security ask again when it is older than the step-up window.
    verified_at: Mapped[datetime | None]
    # The customer account this session acts for, chosen by a person on several accounts
    # (None: their home account, PortalUser.customer_id).
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="SET NULL")
    )


class TotpFactor(Base):
    """A user's authenticator app: the shared secret (encrypted), once confirmed by a code."""

    __tablename__ = "totp_factor"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(sa.String(255))  # Fernet token of the base32 secret
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    # The last 30-second step a code was accepted for: a code is never accepted twice.
    last_step: Mapped[int | None] = mapped_column(sa.BigInteger)


class RecoveryCode(Base):
    """One single-use recovery code; only its SHA-256 is stored (each has 50 random bits)."""

    __tablename__ = "recovery_code"
    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class EmailCode(Base):
    """A six-digit sign-in code e-mailed as the fallback factor; only its hash is stored."""

    __tablename__ = "email_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


class TrustedDevice(Base):
    """A browser the user asked us to remember for 30 days: no second factor asked there.
    The cookie carries a random id; only its SHA-256 is stored, so it can be revoked."""

    __tablename__ = "trusted_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="CASCADE"), index=True
    )
    user_agent: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Passkey(Base):
    """A WebAuthn credential (passkey) registered by a user, named by them."""

    __tablename__ = "passkey"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(sa.LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    transports: Mapped[str] = mapped_column(sa.String(100), default="")
    name: Mapped[str] = mapped_column(sa.String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class SecurityPolicy(Base):
    """What an admin decided about sign-in: one row at most; absent means the defaults."""

    __tablename__ = "security_policy"
    __table_args__ = (
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint(
            "customer_two_factor IN ('optional', 'required')", name="customer_two_factor_known"
        ),
        sa.CheckConstraint(
            "password_max_age_days IS NULL OR password_max_age_days BETWEEN 30 AND 3650",
            name="password_max_age_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, default=1)
    customer_two_factor: Mapped[str] = mapped_column(sa.String(10), default="optional")
    password_max_age_days: Mapped[int | None]
    # Whether customers may create their own first login from an invoice (accounts.claim).
    self_claim: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
