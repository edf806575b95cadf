"""Log lines: text or one JSON object a line, each with its request id, never with a secret.

Reset and invitation links carry their token in the path and the QuickBooks OAuth callback
its code in the query: `Redactor` masks those, and bearer tokens, in every message that
reaches a portal handler (the werkzeug and gunicorn access logs included)."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import IO, Any

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

from portal.config import LoggingSettings

# Paths whose last segment is a secret (routes taking a `token`; a test keeps this complete).
TOKEN_PATHS = (
    "/reset-password/",
    "/invite/",
    "/account/email/confirm/",
    "/notifications/unsubscribe/",
    "/claim/",
)
# Query parameters that carry a secret (the OAuth callback's code and state among them).
SECRET_PARAMS = (
    "token",
    "code",
    "state",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
)
MASK = "[redacted]"

# Each also in its percent-encoded form: a login redirect carries the page asked for in ?next=.
_SLASH, _SEP, _EQ = r"(?:/|%2F)", r"(?:[?&;]|%3F|%26|%3B)", r"(?:=|%3D)"
_PATH_RE = re.compile(
    "("
    + "|".join(_SLASH + re.escape(p.strip("/")) + _SLASH for p in TOKEN_PATHS)
    + r")(?:[^/?#&\s\"'<>%]|%(?!2F|3F|23|26)[0-9A-F]{2})+",
    re.IGNORECASE,
)
_PARAM_RE = re.compile(
    f"({_SEP}(?:{'|'.join(SECRET_PARAMS)}){_EQ})" + r"(?:[^&;#\s\"'<>%]|%(?!26|3B|23)[0-9A-F]{2})+",
    re.IGNORECASE,
)
_AUTH_RE = re.compile(r"\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming request id is kept only when it cannot forge or break a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def redact(text: str) -> str:
    """`text` with path tokens, secret query parameters and bearer tokens masked."""
    text = _PATH_RE.sub(r"\1" + MASK, text)
    text = _PARAM_RE.sub(r"\1" + MASK, text)
    return _AUTH_RE.sub(r"\1" + MASK, text)


class Redactor(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it as it always did
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id`: the current request's, or the one it was given."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: timestamp, level, logger, message, request_id (and more)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            entry["http"] = http
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


REDACTOR = Redactor()
REQUEST_IDS = RequestIdFilter()


def formatter_for(fmt: str) -> logging.Formatter:
    """The formatter of a `logging.format` value."""
    return JsonFormatter() if fmt == "json" else _TextFormatter(TEXT_FORMAT)


def protect(handler: logging.Handler) -> logging.Handler:
    """Add the redaction and request-id filters to a handler (once)."""
    for flt in (REDACTOR, REQUEST_IDS):
        handler.addFilter(flt)  # addFilter ignores a filter already there
    return handler


def portal_handler(fmt: str, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler writing `fmt` lines, with secrets masked and request ids added."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter_for(fmt))
    handler.set_name("portal")
    return protect(handler)


def configure(settings: LoggingSettings, verbose: bool = False) -> None:
    """Set up the root logger for a `portal` command (again, once its settings are read)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "portal":
            root.removeHandler(handler)
    # As basicConfig does, a host that set up logging itself (pytest) keeps its handlers and
    # level; they get the filters all the same.
    if not root.handlers:
        root.addHandler(portal_handler(settings.format))
        level = logging.getLevelName(settings.level.upper())
        root.setLevel(min(level, logging.INFO) if verbose else level)
    for handler in root.handlers:
        protect(handler)
    # The dev server's access lines are logged on this logger: mask them at the source too.
    logging.getLogger("werkzeug").addFilter(REDACTOR)
    # The Authorize.Net SDK logs whole requests (card data) at DEBUG: never let it.
    logging.getLogger("authorizenet.sdk").setLevel(logging.WARNING)


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    if not has_request_context():
        return None
    rid: str | None = g.get("request_id")
    return rid


def init_app(app: Flask) -> None:
    """Give each request an id (a sane incoming X-Request-ID, else a new one) and echo it."""
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)


def _assign_request_id() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


def _echo_request_id(response: Response) -> Response:
    rid = g.get("request_id")
    if rid:
        response.headers[REQUEST_ID_HEADER] = rid
    return response
