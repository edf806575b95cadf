"""The Messages resource on the wire: POST/GET .../Messages.json and GET .../Messages/{Sid}.json.

HTTP Basic auth with the account SID and auth token; form-encoded input; JSON out; errors as
{"code", "message", "more_info", "status"} with the HTTP status Twilio uses.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from .messages import API_VERSION, TwilioError
from .state import TwilioState

logger = logging.getLogger(__name__)

bp = Blueprint("twilio_api", __name__)
PREFIX = f"/{API_VERSION}/Accounts/<account_sid>"
MAX_PAGE_SIZE = 1000


def _state() -> TwilioState:
    state: TwilioState = current_app.extensions["twilio_sandbox_state"]
    return state


def error(exc: TwilioError) -> Response:
    response = jsonify(exc.to_json())
    response.status_code = exc.status
    return response


def _guard(account_sid: str) -> Response | None:
    """Delay, then authentication: the refusal every call gets before anything else."""
    state = _state()
    if state.faults.delay_seconds:
        time.sleep(state.faults.delay_seconds)
    auth = request.authorization
    username = auth.username if auth else None
    password = auth.password if auth else None
    if not state.check_auth(account_sid, username, password):
        response = error(TwilioError(401, 20003, "Authenticate"))
        response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return response
    return None


@bp.post(f"{PREFIX}/Messages.json")
def create(account_sid: str) -> Response:
    refused = _guard(account_sid)
    if refused is not None:
        return refused
    state = _state()
    status = state.faults.take_failure()
    if status == 429:
        return error(TwilioError(429, 20429, "Too Many Requests"))
    if status is not None:
        return error(TwilioError(status, 20500, "An internal server error has occurred"))
    form = request.form
    try:
        message = state.create_message(
            to=form.get("To"),
            from_=form.get("From"),
            body=form.get("Body"),
            status_callback=form.get("StatusCallback"),
            messaging_service_sid=form.get("MessagingServiceSid"),
        )
    except TwilioError as exc:
        return error(exc)
    logger.info("message %s to %s: %s", message.sid, message.to, message.status)
    if state.faults.take_lost():
        _drop_connection()
        return error(TwilioError(504, 20500, "Gateway timeout"))  # if the socket is not ours
    response = jsonify(message.to_json())
    response.status_code = 201
    return response


def _drop_connection() -> None:
    """Close the client's connection before any answer is written (a lost answer)."""
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("the connection was already gone")


@bp.get(f"{PREFIX}/Messages/<sid>.json")
def fetch(account_sid: str, sid: str) -> Response:
    refused = _guard(account_sid)
    if refused is not None:
        return refused
    message = _state().get_message(sid)
    if message is None:
        return error(
            TwilioError(404, 20404, f"The requested resource {request.path} was not found")
        )
    return jsonify(message.to_json())


@bp.get(f"{PREFIX}/Messages.json")
def listing(account_sid: str) -> Response:
    refused = _guard(account_sid)
    if refused is not None:
        return refused
    args = request.args
    sent = {op: args[f"DateSent{op}"] for op in ("", "<", ">") if args.get(f"DateSent{op}")}
    try:
        page = max(0, int(args.get("Page", 0)))
        size = min(MAX_PAGE_SIZE, max(1, int(args.get("PageSize", 50))))
        found = _state().list_messages(
            args.get("To"), args.get("From"), {op or "=": text for op, text in sent.items()}
        )
    except ValueError:
        return error(TwilioError(400, 20001, "Invalid paging parameter"))
    except TwilioError as exc:
        return error(exc)
    rows = found[page * size : (page + 1) * size]
    return jsonify(_page(request.path, rows, page, size, len(found)))


def _page(path: str, rows: list[Any], page: int, size: int, total: int) -> dict[str, Any]:
    """A page as Twilio's list endpoints write it, with filters kept in the page URIs."""
    kept = [
        (k, v)
        for k, v in request.args.items(multi=True)
        if k not in ("Page", "PageSize", "PageToken")
    ]

    def uri(n: int) -> str:
        return (
            path
            + "?"
            + urlencode([*kept, ("PageSize", size), ("Page", n), ("PageToken", f"PA{n}")])
        )

    start = page * size
    return {
        "messages": [m.to_json() for m in rows],
        "page": page,
        "page_size": size,
        "start": start,
        "end": start + max(len(rows) - 1, 0),
        "uri": request.full_path.rstrip("?"),
        "first_page_uri": uri(0),
        "previous_page_uri": uri(page - 1) if page > 0 else None,
        "next_page_uri": uri(page + 1) if start + size < total else None,
    }
