"""The test-control API under /_sandbox/ (no auth: loopback only). JSON or form bodies.

- ``GET  /_sandbox/messages[?to=]``: every message (outbound, replies and inbound), oldest first,
  with its status history.
- ``POST /_sandbox/inbound`` {From, Body, To?}: a phone texts our number (STOP/START/HELP
  honoured, the inbound webhook called and signed); answers what happened.
- ``POST /_sandbox/inbound-webhook`` {url}: where inbound messages are POSTed (empty: nowhere).
- ``POST /_sandbox/numbers`` {phone, kind}: unreachable | unknown | landline | ok.
- ``POST /_sandbox/faults`` {fail_status, count} or {lose, count} or {delay_seconds};
  ``DELETE /_sandbox/faults``.
- ``POST /_sandbox/progress`` {auto}: whether messages go to their final state at once.
- ``POST /_sandbox/advance`` {sid?}: carry queued messages to their final state now.
- ``POST /_sandbox/callbacks`` {auto}: whether status callbacks are POSTed by a thread;
  ``POST /_sandbox/callbacks/flush``: POST the pending ones now and answer how each went.
- ``GET  /_sandbox/opt-outs``; ``POST /_sandbox/reset``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from .state import TwilioState

bp = Blueprint("twilio_control", __name__, url_prefix="/_sandbox")


def _state() -> TwilioState:
    state: TwilioState = current_app.extensions["twilio_sandbox_state"]
    return state


def _input() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else request.form.to_dict()


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True", "yes", "on")


def _bad(message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = 400
    return response


@bp.get("/messages")
def messages() -> Response:
    state = _state()
    to = request.args.get("to")
    with state.lock:
        rows = [
            {**m.to_json(), "history": list(m.history), "status_callback": m.status_callback}
            for m in state.messages.values()
            if not to or m.to == to
        ]
    return jsonify(messages=rows)


@bp.post("/inbound")
def inbound() -> Response:
    data = _input()
    phone, body = str(data.get("From") or ""), str(data.get("Body") or "")
    if not phone or not body:
        return _bad("From and Body are required")
    return jsonify(_state().receive(phone, body, str(data.get("To") or "") or None))


@bp.post("/inbound-webhook")
def inbound_webhook() -> Response:
    _state().set_inbound_url(str(_input().get("url") or "") or None)
    return jsonify(url=_state().inbound_url)


@bp.post("/numbers")
def numbers() -> Response:
    data = _input()
    kind = str(data.get("kind") or "ok")
    try:
        _state().set_number(str(data.get("phone") or ""), None if kind == "ok" else kind)
    except ValueError as exc:
        return _bad(str(exc))
    return jsonify(number_kinds=_state().number_kinds)


@bp.route("/faults", methods=["POST", "DELETE"])
def faults() -> Response:
    injector = _state().faults
    if request.method == "DELETE":
        injector.reset()
        return jsonify(injector.describe())
    data = _input()
    try:
        count = int(data.get("count", 1))
        if data.get("fail_status"):
            injector.fail_next(count, int(data["fail_status"]))
        if _flag(data.get("lose")):
            injector.lose_next(count)
        if "delay_seconds" in data:
            injector.delay_seconds = max(0.0, float(data["delay_seconds"]))
    except (TypeError, ValueError) as exc:
        return _bad(str(exc))
    return jsonify(injector.describe())


@bp.post("/progress")
def progress() -> Response:
    _state().auto_progress = _flag(_input().get("auto"))
    return jsonify(auto=_state().auto_progress)


@bp.post("/advance")
def advance() -> Response:
    sid = _input().get("sid")
    state = _state()
    if sid and state.get_message(str(sid)) is None:
        return _bad(f"no message {sid}")
    moved = state.advance(str(sid) if sid else None)
    return jsonify(messages=[m.to_json() for m in moved])


@bp.post("/callbacks")
def callbacks() -> Response:
    dispatcher = _state().callbacks
    dispatcher.auto_deliver = _flag(_input().get("auto"))
    if dispatcher.auto_deliver and dispatcher.pending:
        dispatcher.flush()
    return jsonify(auto=dispatcher.auto_deliver)


@bp.post("/callbacks/flush")
def flush() -> Response:
    done = _state().callbacks.flush()
    return jsonify(callbacks=[c.to_json() for c in done])


@bp.get("/opt-outs")
def opt_outs() -> Response:
    state = _state()
    with state.lock:
        pairs = sorted(state.opted_out)
    return jsonify(opt_outs=[{"number": ours, "phone": phone} for ours, phone in pairs])


@bp.post("/reset")
def reset() -> Response:
    _state().reset()
    return jsonify(ok=True)
