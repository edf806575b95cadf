"""Error pages and security headers: every failure is a page in words, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

logger = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood. Check what you entered and try again.",
    403: "You do not have access to that page.",
    404: "We could not find that page.",
    405: "That action is not allowed here.",
    413: "What you sent is too large, so nothing was saved. Go back and send something smaller "
    "(a logo may be at most 200 KB).",
    429: "Too many requests. Wait a minute and try again.",
    500: "Something went wrong on our side. Nothing was charged; please try again shortly.",
}

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def init_app(app: Flask) -> None:
    """Register the error handlers and the header hook."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.after_request(_security_headers)


def _page(code: int, message: str) -> tuple[str, int]:
    return render_template("errors/error.html", code=code, message=message), code


def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    logger.info("refused a form without a valid CSRF token: %s", exc.description)
    return _page(
        400,
        "This form has expired or did not come from this site. Reload the page and try again; "
        "nothing was changed.",
    )


def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
    code = exc.code or 500
    if code < 400:
        return exc.get_response()
    return _page(code, MESSAGES.get(code, exc.description or "Error"))


def _unexpected(exc: Exception) -> tuple[str, int]:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return _page(500, MESSAGES[500])


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # Reset and invitation links carry a token in the path: never send it on as a referrer.
    headers.setdefault("Referrer-Policy", "no-referrer")
    # A logged-in page is private; a response that declared itself public (the brand's
    # logo and colours, the same for everyone) keeps its caching.
    public = headers.get("Cache-Control", "").startswith("public")
    if current_user and current_user.is_authenticated and not public:
        headers["Cache-Control"] = "no-store"
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
