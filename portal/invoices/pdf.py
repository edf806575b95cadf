"""Statement PDFs: the statement page's own templates, printed by WeasyPrint.

WeasyPrint (in `printing`, loaded when a PDF is asked for, so the portal still starts on a
machine without Pango) reads nothing from the network.
"""

from __future__ import annotations

from babel import Locale
from flask import current_app, render_template

from portal.branding import DEFAULT_COLOUR, HEX_COLOUR, brand
from portal.config import Settings
from portal.invoices.statements import Statement

# Relative URLs in the printed HTML resolve against this; no request ever goes to it.
BASE_URL = "https://portal.invalid/"
# The print CSS names these (static/print/statement.css); `make fonts` installs them.
FONT_FAMILIES = ("DejaVu Sans", "Droid Sans Fallback")
# Where paper is Letter-sized (CLDR's measurementData); everywhere else prints on A4.
LETTER_TERRITORIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "PR", "GT", "SV"})


def page_size() -> str:
    """`letter` where the company's locale prints on Letter, else `A4`."""
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    territory = Locale.parse(settings.portal.locale).territory
    return "letter" if territory in LETTER_TERRITORIES else "A4"


def statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF, from the same body as the statement page."""
    colour = brand().colour
    html = render_template(
        "invoices/statement_pdf.html",
        statement=statement,
        page_size=page_size(),
        # The colour lands in CSS: only a hex colour, whatever the database holds.
        accent=colour if HEX_COLOUR.fullmatch(colour) else DEFAULT_COLOUR,
    )
    from portal.invoices.printing import render_pdf  # WeasyPrint needs Pango: loaded on use

    return render_pdf(html)
