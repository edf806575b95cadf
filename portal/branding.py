"""The business's own look: name, logo and brand colour on pages, PDFs and e-mails.

`brand()` is what every template sees as `brand`: `brand.name`, `brand.colour` (a CSS hex
colour) and `brand.logo_url` (a data: URL, or None). An admin saves them (admin/branding);
what is not saved falls back to the settings' business name and the default colour.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import db
from portal.db import Base, utcnow

logger = logging.getLogger(__name__)

DEFAULT_COLOUR = "#0b6bcb"
HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
# WCAG 2 AA for normal text: brand buttons carry white text, links sit on white.
MIN_CONTRAST = 4.5
MAX_LOGO_BYTES = 200 * 1024
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


class BrandSetting(Base):
    """What an admin saved about the brand; one row at most, each column optional."""

    __tablename__ = "brand_setting"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, default=1)
    business_name: Mapped[str | None] = mapped_column(sa.String(120))
    colour: Mapped[str | None] = mapped_column(sa.String(7))
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    logo_type: Mapped[str | None] = mapped_column(sa.String(20))
    # How customers reach the business (shown where the portal cannot help them itself).
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
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
    # How customers reach the business; None when the admin has not said.
    phone: str | None = None
    email: str | None = None


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
    try:
        row = s.execute(
            sa.select(
                BrandSetting.business_name,
                BrandSetting.colour,
                BrandSetting.logo_type,
                BrandSetting.updated_at,
                BrandSetting.contact_phone,
                BrandSetting.contact_email,
            ).where(BrandSetting.id == 1)
        ).one_or_none()
    except SQLAlchemyError:
        # A page about a database error still renders, under the settings' name.
        logger.warning("brand unreadable; the settings' name is used", exc_info=True)
        return Brand(name=fallback)
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
        phone=row.contact_phone,
        email=row.contact_email,
    )


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a `#rrggbb` colour."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two `#rrggbb` colours (1 to 21)."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def check_colour(colour: str) -> str:
    """The colour in lower case; ValueError says why it cannot be the brand colour."""
    if not HEX_COLOUR.fullmatch(colour):
        raise ValueError("Enter the colour as # and six hex digits, e.g. #0b6bcb.")
    ratio = contrast(colour, "#ffffff")
    if ratio < MIN_CONTRAST:
        raise ValueError(
            f"White text on {colour} has a contrast of {ratio:.1f}:1; buttons and links "
            f"need at least {MIN_CONTRAST}:1 to be readable. Choose a darker colour."
        )
    return colour.lower()


def check_logo(data: bytes) -> str:
    """The logo's media type; ValueError says why the file cannot be the logo."""
    if not data:
        raise ValueError("The logo file is empty.")
    if len(data) > MAX_LOGO_BYTES:
        raise ValueError(
            f"The logo is {len(data) // 1024} KB; it may be at most {MAX_LOGO_BYTES // 1024} KB."
        )
    for magic, mime in LOGO_TYPES.items():
        if data.startswith(magic):
            return mime
    raise ValueError("The logo must be a PNG or JPEG image; this file is neither.")


def save_brand(
    s: Session,
    name: str | None,
    colour: str | None,
    logo: bytes | None,
    remove_logo: bool,
    user_id: int,
    contact: tuple[str | None, str | None] | None = None,
) -> None:
    """Store the brand (in the caller's unit of work); None name or colour: the default.
    `contact` is the (phone, e-mail) customers reach the business at; None keeps it."""
    row = s.get(BrandSetting, 1) or BrandSetting(id=1)
    row.business_name = name or None
    if contact is not None:
        row.contact_phone, row.contact_email = (value or None for value in contact)
    row.colour = check_colour(colour) if colour else None
    if logo is not None:
        row.logo_type = check_logo(logo)
        row.logo = logo
    elif remove_logo:
        row.logo_type = None
        row.logo = None
    row.updated_by = user_id
    row.updated_at = utcnow()  # a new version even when nothing else changed
    s.add(row)


def logo(s: Session) -> tuple[bytes, str] | None:
    """The saved logo and its media type."""
    row = s.execute(
        sa.select(BrandSetting.logo, BrandSetting.logo_type).where(BrandSetting.id == 1)
    ).one_or_none()
    if row is None or row.logo is None or row.logo_type is None:
        return None
    return row.logo, row.logo_type


def init_app(app: Flask) -> None:
    """Make `brand` available to every template."""
    app.context_processor(lambda: {"brand": brand()})
