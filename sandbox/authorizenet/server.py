"""The Flask app factory, the threaded AnetSandbox server and the command line entry point."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from sandbox.serving import LoopbackServer

from . import acceptjs, api
from .state import DEFAULT_API_LOGIN_ID, DEFAULT_TRANSACTION_KEY, AnetState
from .wire import CONTENT_TYPE, error_reply, render

logger = logging.getLogger(__name__)


def create_sandbox_app(state: AnetState) -> Flask:
    """Build the Flask app serving the XML API and the Accept.js stand-in for `state`."""
    app = Flask("sandbox.authorizenet")
    app.extensions["anet_sandbox_state"] = state
    app.register_blueprint(api.bp)
    app.register_blueprint(acceptjs.bp)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        """Unknown paths and methods get a plain status, like the gateway's front end."""
        return Response(error.name, status=error.code or 400, mimetype="text/plain")

    @app.errorhandler(Exception)
    def crash(error: Exception) -> Response:
        """A sandbox bug is E00001 for the client and a traceback in the log."""
        logger.exception("sandbox request failed", exc_info=error)
        reply = error_reply("E00001", "An error occurred during processing. Please try again.")
        return Response(render("ErrorResponse", None, reply), content_type=CONTENT_TYPE)

    return app


class AnetSandbox(LoopbackServer):
    """An Authorize.Net sandbox on loopback: start() serves in a daemon thread, stop() ends it.

    Point the SDK at it right before each call (the environment is process-global)::

        controller = createTransactionController(request)
        controller.setenvironment(sandbox.api_url)
        controller.execute()
    """

    name = "Authorize.Net sandbox"

    def __init__(
        self,
        state: AnetState | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: str | Path | None = None,
    ):
        super().__init__(host, port)
        self.state = state or AnetState()
        self.state_file = Path(state_file) if state_file else None

    def make_app(self) -> Flask:
        return create_sandbox_app(self.state)

    def start(self) -> AnetSandbox:
        """Load the state file (if any) and keep it current, bind and serve."""
        if self.state_file:
            self.state.open(self.state_file)
        return super().start()

    def stop(self) -> None:
        """Release held requests, stop serving, stop webhook delivery, close the state file."""
        self.state.faults.release()
        super().stop()
        self.state.webhooks.stop()
        if self.state_file:
            self.state.close()

    @property
    def api_url(self) -> str:
        """What controller.setenvironment() takes."""
        return self.base_url + api.API_PATH

    @property
    def accept_js_url(self) -> str:
        """The <script src> for the Accept.js stand-in."""
        return self.base_url + acceptjs.SCRIPT_PATH


DESCRIPTION = """Serve a local Authorize.Net for demos and tests: the XML API
(charges, refunds, voids, customer profiles, transaction reporting, daily settlement) and an
Accept.js stand-in that turns card and bank details into one-time tokens, on plain HTTP.
Point authorizenet.api_url and authorizenet.accept_js_url at the URLs it prints. Test card
4111 1111 1111 1111 with any future expiry; billing ZIP 46282 declines."""
EPILOG = """With --state-file every transaction, profile and token is on disk before it is
answered (card and bank numbers only as their last four digits): stop with Ctrl-C or SIGTERM
(or lose the process) and start again with the same file to carry on. Delete the file to
start afresh."""


def _parse_args(argv: Sequence[str] | None, prog: str) -> argparse.Namespace:
    """Command line options."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port", type=int, default=8766, help="port to listen on; 0 picks a free one (%(default)s)"
    )
    parser.add_argument(
        "--api-login-id",
        default=DEFAULT_API_LOGIN_ID,
        help="merchant login id API calls must carry (%(default)s)",
    )
    parser.add_argument(
        "--transaction-key",
        default=DEFAULT_TRANSACTION_KEY,
        help="transaction key API calls must carry (%(default)s)",
    )
    parser.add_argument(
        "--webhook-url", default=None, metavar="URL", help="POST signed notifications here"
    )
    parser.add_argument(
        "--state-file",
        default=None,
        metavar="PATH",
        help="JSON file transactions, batches and profiles are kept in (default: memory only)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, prog: str = "python -m sandbox.authorizenet") -> int:
    """Run a sandbox in the foreground until Ctrl-C or SIGTERM."""
    args = _parse_args(argv, prog)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    state = AnetState(api_login_id=args.api_login_id, transaction_key=args.transaction_key)
    if args.webhook_url:
        state.webhooks.configure(args.webhook_url, state.signature_key)
    sandbox = AnetSandbox(state, args.host, args.port, args.state_file).start()
    info = {
        "base_url": sandbox.base_url,
        "api_url": sandbox.api_url,
        "accept_js_url": sandbox.accept_js_url,
        "api_login_id": state.api_login_id,
        "client_key": state.client_key,
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


__all__ = ["AnetSandbox", "create_sandbox_app", "main"]
