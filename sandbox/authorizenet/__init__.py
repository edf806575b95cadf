"""A faithful Authorize.Net sandbox: the XML API, Accept.js, settlement, webhooks and faults.

Start one and point the unmodified ``authorizenet`` SDK at it::

    from sandbox.authorizenet import AnetSandbox
    sandbox = AnetSandbox().start()             # port 0: a free port on 127.0.0.1
    controller = createTransactionController(request)
    controller.setenvironment(sandbox.api_url)  # process-global, reset by every constructor
    controller.execute()

Credentials default to ``sandbox-login`` / ``sandbox-key``. ``state.tokenize_card(...)`` stands
in for Accept.js without a browser; pages load ``sandbox.accept_js_url``. Settlement:
``state.settle()`` (and a daily cut-off, ``state.settlement_cutoff``, 03:00 UTC). Faults:
:mod:`sandbox.authorizenet.faults`; webhooks: :mod:`sandbox.authorizenet.webhooks`; time:
``state.clock`` (e.g. :class:`ManualClock`). Command line:
``python -m sandbox.authorizenet --port 8766``.
"""

from sandbox.qbo.util import ManualClock

from .faults import FaultInjector
from .server import AnetSandbox, create_sandbox_app, main
from .state import (
    DEFAULT_API_LOGIN_ID,
    DEFAULT_CLIENT_KEY,
    DEFAULT_SIGNATURE_KEY,
    DEFAULT_TRANSACTION_KEY,
    AnetState,
)
from .tokens import AcceptError
from .webhooks import sign, verify

__all__ = [
    "DEFAULT_API_LOGIN_ID",
    "DEFAULT_CLIENT_KEY",
    "DEFAULT_SIGNATURE_KEY",
    "DEFAULT_TRANSACTION_KEY",
    "AcceptError",
    "AnetSandbox",
    "AnetState",
    "FaultInjector",
    "ManualClock",
    "create_sandbox_app",
    "main",
    "sign",
    "verify",
]
