"""The business's own look: name, logo and brand colour on pages, PDFs and e-mails.

`brand()` is what every template sees as `brand`: `brand.name`, `brand.colour` (a CSS hex
colour) and `brand.logo_url` (a data: URL, or None). Today it comes from settings; an admin
page that stores them in the database replaces `brand()`'s source, not its callers.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, has_app_context

DEFAULT_COLOUR = "#0b6bcb"


@dataclass(frozen=True)
class Brand:
    name: str
    colour: str = DEFAULT_COLOUR
    logo_url: str | None = None


def brand() -> Brand:
    """The business's brand as pages, PDFs and e-mails show it."""
    if not has_app_context():
        return Brand(name="Billing portal")
    return Brand(name=current_app.config["BUSINESS_NAME"])


def init_app(app: Flask) -> None:
    """Make `brand` available to every template."""
    app.context_processor(lambda: {"brand": brand()})
