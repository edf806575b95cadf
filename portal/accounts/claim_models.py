"""What is remembered of each "Create your login" request: enough to rate-limit them."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, str_enum, utcnow


class ClaimOutcome(enum.StrEnum):
    """What one request led to (never shown to the person who made it)."""

    SENT = "sent"  # a claim link went to the e-mail on file
    HAS_LOGIN = "login"  # the account has a login: a reset hint went instead
    EMAIL_USED = "used"  # another login uses the e-mail on file: a hint went instead
    NO_EMAIL = "nomail"  # matched, but QuickBooks has no e-mail for the customer
    NO_MATCH = "nomatch"
    LIMITED = "limited"  # past a limit: nothing sent


# Outcomes that e-mailed the customer, and so count against their daily limit.
MAILED = (ClaimOutcome.SENT, ClaimOutcome.HAS_LOGIN, ClaimOutcome.EMAIL_USED)


class ClaimAttempt(Base):
    """One request, counted per client address and per matched customer within a window."""

    __tablename__ = "claim_attempt"
    __table_args__ = (
        sa.Index("ix_claim_attempt_address", "address", "created_at"),
        sa.Index("ix_claim_attempt_customer", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(64))
    # Only when the details matched one customer.
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE")
    )
    outcome: Mapped[ClaimOutcome] = mapped_column(str_enum(ClaimOutcome, "claim_outcome", 10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
