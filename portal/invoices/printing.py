"""Printing HTML to PDF with WeasyPrint, which reads nothing from the network.

`LocalOnlyFetcher` lets it have data: URLs (the brand's logo) and the app's own static files,
and refuses every other URL. Importing this module loads Pango (a system library).
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from portal.invoices.pdf import BASE_URL

logger = logging.getLogger(__name__)


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
