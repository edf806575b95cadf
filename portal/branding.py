"""The business's own look: name, logo and brand colour on pages, PDFs and e-mails.

`brand()` is what every template sees as `brand`: `brand.name`, `brand.colour` (a CSS hex
colour) and `brand.logo_url` (a data: URL, or None). An admin saves them (admin/branding);
what is not saved falls back to the settings' business name and the default colour.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import db
from portal.db import Base, utcnow

DEFAULT_COLOUR = "#0b6bcb"


class BrandSetting(Base):
    """What an admin saved about the brand; one row at most, each column optional."""

    __tablename__ = "brand_setting"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, default=1)
    business_name: Mapped[str | None] = mapped_column(sa.String(120))
    colour: Mapped[str | None] = mapped_column(sa.String(7))
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    logo_type: Mapped[str | None] = mapped_column(sa.String(20))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )


@dataclass(frozen=True)
class Brand:
    name: str
    colour: str = DEFAULT_COLOUR
    # Self-contained (PDFs and e-mails need no fetch); pages use `logo_href`, which caches.
    logo_url: str | None = None
    logo_href: str | None = None
    # Changes whenever the saved brand does: cache keys for the logo and brand.css.
    version: str = "0"


# The last logo read, by version: pages ask for the brand on every request, the logo
# (up to 200 KB) is read again only when an admin saved a new one.
_logo_cache: dict[str, str] = {}


def _logo_data_url(s: Session, version: str, mime: str) -> str | None:
    if version not in _logo_cache:
        raw = s.scalar(sa.select(BrandSetting.logo).where(BrandSetting.id == 1))
        if raw is None:
            return None
        _logo_cache.clear()
        _logo_cache[version] = f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"
    return _logo_cache[version]


def brand(s: Session | None = None) -> Brand:
    """The business's brand as pages, PDFs and e-mails show it."""
    if not has_app_context():
        return Brand(name="Billing portal")
    fallback = current_app.config["BUSINESS_NAME"]
    s = s or db.session()
    row = s.execute(
        sa.select(
            BrandSetting.business_name,
            BrandSetting.colour,
            BrandSetting.logo_type,
            BrandSetting.updated_at,
        ).where(BrandSetting.id == 1)
    ).one_or_none()
    if row is None:
        return Brand(name=fallback)
    version = hashlib.sha256(row.updated_at.isoformat().encode()).hexdigest()[:12]
    logo = _logo_data_url(s, version, row.logo_type) if row.logo_type else None
    return Brand(
        name=row.business_name or fallback,
        colour=row.colour or DEFAULT_COLOUR,
        logo_url=logo,
        logo_href=f"/brand/logo?v={version}" if logo else None,
        version=version,
    )


def init_app(app: Flask) -> None:
    """Make `brand` available to every template."""
    app.context_processor(lambda: {"brand": brand()})
