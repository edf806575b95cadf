"""The Flask app factory, the threaded TwilioSandbox server and the command line entry point."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from sandbox.serving import LoopbackServer

from . import api, control
from .messages import TwilioError
from .state import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, DEFAULT_FROM_NUMBER, TwilioState

logger = logging.getLogger(__name__)


def create_sandbox_app(state: TwilioState) -> Flask:
    """Build the Flask app serving the Messages API and the control API for `state`."""
    app = Flask("sandbox.twilio")
    app.extensions["twilio_sandbox_state"] = state
    app.register_blueprint(api.bp)
    app.register_blueprint(control.bp)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        """Unknown paths and methods answer Twilio's JSON error shape (20404 and friends)."""
        status = error.code or 400
        code = 20404 if status == 404 else 20000 + status
        return api.error(TwilioError(status, code, error.description or error.name))

    @app.errorhandler(Exception)
    def crash(error: Exception) -> Response:
        """A sandbox bug is a 500 for the client and a traceback in the log."""
        logger.exception("sandbox request failed", exc_info=error)
        response = jsonify(
            TwilioError(500, 20500, "An internal server error has occurred").to_json()
        )
        response.status_code = 500
        return response

    return app


class TwilioSandbox(LoopbackServer):
    """A Twilio Messaging sandbox on loopback: start() serves in a daemon thread, stop() ends it.

    Point the unmodified ``twilio`` package at it::

        client = Client(state.account_sid, state.auth_token)
        client.api.base_url = sandbox.base_url
    """

    name = "Twilio sandbox"

    def __init__(
        self,
        state: TwilioState | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: str | Path | None = None,
    ) -> None:
        super().__init__(host, port)
        self.state = state or TwilioState()
        self.state_file = Path(state_file) if state_file else None

    def make_app(self) -> Flask:
        return create_sandbox_app(self.state)

    def start(self) -> TwilioSandbox:
        """Load the state file (if any) and keep it current, bind and serve."""
        if self.state_file:
            self.state.open(self.state_file)
        super().start()
        return self

    def stop(self) -> None:
        """Stop serving, stop callback delivery, close the state file."""
        super().stop()
        self.state.callbacks.stop()
        if self.state_file:
            self.state.close()


DESCRIPTION = """Serve a local Twilio Programmable Messaging API for demos and tests: the
Messages resource (send, fetch, list), status callbacks and inbound messages signed with
X-Twilio-Signature, advanced opt-out (STOP/START/HELP), Twilio's magic test numbers and a
control API under /_sandbox/ (simulate an inbound SMS, make a number unreachable or a landline,
inject faults, list messages). Point sms.api_base_url at the base URL it prints."""
EPILOG = """With --state-file messages, opt-outs and number settings are on disk before each
answer: stop and start again with the same file to carry on. Delete the file to start afresh."""


def _parse_args(argv: Sequence[str] | None, prog: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port", type=int, default=8767, help="port to listen on; 0 picks a free one (%(default)s)"
    )
    parser.add_argument(
        "--account-sid", default=DEFAULT_ACCOUNT_SID, help="account SID (%(default)s)"
    )
    parser.add_argument(
        "--auth-token", default=DEFAULT_AUTH_TOKEN, help="auth token; also signs callbacks"
    )
    parser.add_argument(
        "--from-number", default=DEFAULT_FROM_NUMBER, help="our number (%(default)s)"
    )
    parser.add_argument(
        "--inbound-url", default=None, metavar="URL", help="POST inbound messages here, signed"
    )
    parser.add_argument(
        "--manual",
        action="store_true",
        help="messages wait in 'queued' until POST /_sandbox/advance (default: at once)",
    )
    parser.add_argument(
        "--state-file",
        default=None,
        metavar="PATH",
        help="JSON file messages and opt-outs are kept in (default: memory only)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, prog: str = "python -m sandbox.twilio") -> int:
    """Run a sandbox in the foreground until Ctrl-C or SIGTERM."""
    args = _parse_args(argv, prog)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    state = TwilioState(args.account_sid, args.auth_token, args.from_number)
    state.auto_progress = not args.manual
    sandbox = TwilioSandbox(state, args.host, args.port, args.state_file).start()
    if args.inbound_url:
        state.set_inbound_url(args.inbound_url)
    info = {
        "base_url": sandbox.base_url,
        "account_sid": state.account_sid,
        "auth_token": state.auth_token,
        "from_number": state.from_number,
    }
    for key, value in info.items():
        print(f"{key}: {value}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        sandbox.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM into KeyboardInterrupt for a clean stop."""
    raise KeyboardInterrupt


__all__ = ["TwilioSandbox", "create_sandbox_app", "main"]
