"""Statement PDFs: the statement page's own templates, printed by WeasyPrint.

WeasyPrint reads nothing from the network: `LocalOnlyFetcher` lets it have data: URLs (the
brand's logo) and the app's own static files, and refuses every other URL.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from babel import Locale
from flask import current_app, render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from portal.branding import DEFAULT_COLOUR, HEX_COLOUR, brand
from portal.config import Settings
from portal.invoices.statements import Statement

logger = logging.getLogger(__name__)

# Relative URLs in the printed HTML resolve against this; no request ever goes to it.
BASE_URL = "https://portal.invalid/"
# The print CSS names these (static/print/statement.css); `make fonts` installs them.
FONT_FAMILIES = ("DejaVu Sans", "Droid Sans Fallback")
# Where paper is Letter-sized (CLDR's measurementData); everywhere else prints on A4.
LETTER_TERRITORIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "PR", "GT", "SV"})


class LocalOnlyFetcher(URLFetcher):
    """WeasyPrint's fetcher limited to data: URLs and files under the static folder."""

    def __init__(self, static_root: Path, static_url_path: str) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)
        self.static_root = static_root.resolve()
        self.prefix = BASE_URL.rstrip("/") + static_url_path.rstrip("/") + "/"

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        """The data: URL or static file; ValueError for anything else (WeasyPrint skips it)."""
        if url[:5].lower() == "data:":
            return super().fetch(url, headers)
        path = self.static_file(url)
        if path is None:
            logger.warning("a PDF asked for %s, which is not fetched", url[:200])
            raise ValueError("only data: URLs and the portal's static files are fetched")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})

    def static_file(self, url: str) -> Path | None:
        """The file under the static folder that `url` names, or None."""
        if not url.startswith(self.prefix):
            return None
        relative = unquote(urlsplit(url[len(self.prefix) :]).path)
        path = (self.static_root / relative).resolve()
        if not path.is_relative_to(self.static_root) or not path.is_file():
            return None
        return path


def render_pdf(html: str) -> bytes:
    """The PDF of an HTML document printed in this app (static files and data: URLs only)."""
    static = Path(current_app.static_folder or "static")
    fetcher = LocalOnlyFetcher(static, current_app.static_url_path or "/static")
    pdf: bytes = HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf()
    return pdf


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
    return render_pdf(html)
