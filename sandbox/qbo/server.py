"""The Flask app factory, the threaded QboSandbox server and the command line entry point."""

from __future__ import annotations

import argparse
import logging
import secrets
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from sandbox.serving import LoopbackServer

from . import api, oauth
from .faults import QboFault, server_error, unsupported
from .seed import seed_company
from .state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxState

logger = logging.getLogger(__name__)


def create_sandbox_app(state: SandboxState) -> Flask:
    """Build the Flask app serving OAuth and the v3 data API for `state`."""
    app = Flask("sandbox.qbo")
    app.extensions["qbo_sandbox_state"] = state
    app.register_blueprint(oauth.bp)
    app.register_blueprint(api.bp)

    @app.after_request
    def add_intuit_tid(response: Response) -> Response:
        """Every Intuit response carries a transaction id for support tickets."""
        response.headers["intuit_tid"] = f"1-{secrets.token_hex(12)}"
        return response

    @app.after_request
    def keep_changes(response: Response) -> Response:
        """What a request changed is in the state file before the client hears of it."""
        state.persist()
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        """Unknown paths and methods get a Fault, not an HTML page."""
        fault = unsupported(f"{error.code} {error.name}: no such resource in the sandbox")
        fault.status = error.code or 400
        return api.fault_response(state, fault)

    @app.errorhandler(Exception)
    def crash(error: Exception) -> Response:
        """A sandbox bug is a SystemFault for the client and a traceback in the log."""
        logger.exception("sandbox request failed", exc_info=error)
        return api.fault_response(state, server_error(500))

    return app


class QboSandbox(LoopbackServer):
    """A QBO sandbox on loopback: start() serves in a daemon thread, stop() shuts down.

    Point the real clients at it::

        auth = AuthClient(client_id, client_secret, redirect_uri, environment=sandbox.discovery_url)
        qb = QuickBooks(auth_client=auth, refresh_token=..., company_id=realm, minorversion=75)
        qb.api_url_v3 = sandbox.api_base_url  # a URL environment makes qb use api_url_v3

    python-quickbooks (requests-oauthlib) refuses plain http unless the environment has
    ``OAUTHLIB_INSECURE_TRANSPORT=1``.
    """

    name = "QBO sandbox"

    def __init__(
        self,
        state: SandboxState | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: str | Path | None = None,
    ) -> None:
        super().__init__(host, port)
        self.state = state or SandboxState()
        self.state_file = Path(state_file) if state_file else None

    def make_app(self) -> Flask:
        return create_sandbox_app(self.state)

    def start(self) -> QboSandbox:
        """Load the state file (if any) and keep it current, bind and serve in a daemon
        thread."""
        if self.state_file:
            self.state.open(self.state_file)
        return super().start()

    def stop(self) -> None:
        """Stop serving, stop webhook delivery and fold the journal into the state file."""
        super().stop()
        self.state.webhooks.stop()
        if self.state_file:
            self.state.close()

    @property
    def discovery_url(self) -> str:
        """The value to pass as AuthClient(environment=...)."""
        return self.base_url + oauth.DISCOVERY_PATH

    @property
    def api_base_url(self) -> str:
        """The value to set as QuickBooks.api_url_v3 (ends in /v3)."""
        return self.base_url + "/v3"


DESCRIPTION = """Serve a local QuickBooks Online for demos and tests: Intuit's OAuth 2
endpoints (connections are approved at once) and the v3 JSON data API, on plain HTTP.
Point quickbooks.discovery_url and quickbooks.api_base_url at the URLs it prints."""
EPILOG = """With --state-file every change is on disk before it is answered: stop with Ctrl-C or
SIGTERM (or lose the process) and start again with the same file to carry on; the company is
seeded only when the file is new. Delete the file (and its .journal) to start afresh."""


def _parse_args(argv: Sequence[str] | None, prog: str) -> argparse.Namespace:
    """Command line options."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on; 0 picks a free one (%(default)s)"
    )
    parser.add_argument(
        "--realm-id", default=None, help="id of the company to create (default: a generated one)"
    )
    parser.add_argument(
        "--seed-customers",
        "--customers",
        type=int,
        default=0,
        metavar="N",
        help="customers to seed into a new company (%(default)s)",
    )
    parser.add_argument(
        "--seed-invoices",
        "--invoices",
        type=int,
        default=0,
        metavar="M",
        help="invoices, with their payments and credits, to seed (%(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=1234, help="random seed, for the same data every time"
    )
    parser.add_argument(
        "--state-file",
        default=None,
        metavar="PATH",
        help="JSON file the companies, tokens and answers are kept in (default: memory only)",
    )
    parser.add_argument(
        "--client-id", default=DEFAULT_CLIENT_ID, help="OAuth client id apps must use (%(default)s)"
    )
    parser.add_argument(
        "--client-secret", default=DEFAULT_CLIENT_SECRET, help="OAuth client secret (%(default)s)"
    )
    parser.add_argument(
        "--no-throttle", action="store_true", help="turn off the 500 requests/minute limit"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, prog: str = "python -m sandbox.qbo") -> int:
    """Run a sandbox in the foreground until Ctrl-C or SIGTERM."""
    args = _parse_args(argv, prog)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    state = SandboxState(client_id=args.client_id, client_secret=args.client_secret)
    sandbox = QboSandbox(state, args.host, args.port, args.state_file).start()
    if args.no_throttle:
        state.faults.throttle_limit = None
    with state.lock:  # a request must never see (or keep) a half-seeded company
        fresh = not state.companies  # a kept state is served as it was, never re-seeded
        if fresh:
            state.add_company(args.realm_id)
        if fresh and (args.seed_customers or args.seed_invoices):
            seed_company(
                state, args.realm_id, max(1, args.seed_customers), args.seed_invoices, args.seed
            )
        if fresh:
            state.checkpoint()
    info: dict[str, Any] = {
        "base_url": sandbox.base_url,
        "discovery_url": sandbox.discovery_url,
        "api_base_url": sandbox.api_base_url,
        "realm_ids": sorted(state.companies),
        "client_id": args.client_id,
    }
    for key, value in info.items():
        print(f"{key}: {value}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops as cleanly as Ctrl-C
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        sandbox.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM into KeyboardInterrupt: stop serving, then fold the journal in."""
    raise KeyboardInterrupt


__all__ = ["QboFault", "QboSandbox", "create_sandbox_app", "main"]
