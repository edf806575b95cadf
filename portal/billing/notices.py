"""News for every customer and alerts for one, posted by staff and shown on the dashboard."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base, utcnow


class Notice(Base):
    """A message on customers' dashboards: news (no customer) or an alert (one customer)."""

    __tablename__ = "notice"
    __table_args__ = (sa.Index("ix_notice_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(sa.String(120))
    body: Mapped[str] = mapped_column(sa.String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )


def for_customer(s: Session, customer_id: int, now: datetime, limit: int = 5) -> list[Notice]:
    """Current news and this customer's alerts, newest first."""
    return list(
        s.scalars(
            sa.select(Notice)
            .where(
                sa.or_(Notice.customer_id.is_(None), Notice.customer_id == customer_id),
                sa.or_(Notice.expires_at.is_(None), Notice.expires_at > now),
            )
            .order_by(Notice.created_at.desc(), Notice.id.desc())
            .limit(limit)
        )
    )
